package callback

import "context"

// CaptchaChecker enforces a tenant's CAPTCHA rule on public bookings.
//
// CheckCaptcha returns nil when the tenant does not require a CAPTCHA or
// token is a valid, unused answer; a KindInvalid error when the token is
// missing, invalid, expired or already used; a KindUnavailable error when
// the answer cannot be verified (the booking is then refused, never let
// through unchecked).
type CaptchaChecker interface {
	CheckCaptcha(ctx context.Context, tenant, token string) error
}
