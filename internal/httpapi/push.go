package httpapi

import (
	"fmt"

	"github.com/gesgo/ges/internal/callback"
	"github.com/gesgo/ges/internal/settings"
)

// requirePushTargets refuses a create for a USERORIGINATED service without
// push targets: the customer calls in when told to, so a callback nobody
// can be told about is useless. An unknown service is left to Create.
func requirePushTargets(cbs *callback.Service, tenant string, req callback.CreateRequest) error {
	svc, ok := cbs.Settings.Service(tenant, req.Service)
	if !ok || svc.CallDirection != settings.UserOriginated || req.Props["_push_targets"] != "" {
		return nil
	}
	return fmt.Errorf("pushTargets is required: service %s is USERORIGINATED (the customer is notified to call in)", req.Service)
}
