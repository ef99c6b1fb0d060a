package pgstore

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/gesgo/ges/internal/numbers"
)

// NumberRules lists the number rules of tenant ("": of every tenant) with
// their services, by tenant and name (numbers.Store).
func (s *Store) NumberRules(ctx context.Context, tenant string) (map[string][]*numbers.Rule, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.ccid, r.name, r.countries, r.patterns, r.updated_at, r.updated_by,
			COALESCE((SELECT array_agg(v.service ORDER BY v.service) FROM number_rule_services v
				WHERE v.ccid = r.ccid AND v.rule = r.name), '{}')
		FROM number_rules r WHERE $1 = '' OR r.ccid = $1 ORDER BY r.ccid, r.name`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]*numbers.Rule{}
	for rows.Next() {
		var ccid string
		var pats []byte
		r := &numbers.Rule{}
		if err := rows.Scan(&ccid, &r.Name, &r.Countries, &pats, &r.UpdatedAt, &r.UpdatedBy, &r.Services); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(pats, &r.Patterns); err != nil {
			return nil, err
		}
		r.UpdatedAt = r.UpdatedAt.UTC()
		out[ccid] = append(out[ccid], r)
	}
	return out, rows.Err()
}

// PutNumberRule creates or replaces a rule and makes it the rule of its
// services, in one transaction: a service named moves from its former
// rule, a service no longer named has no rule.
func (s *Store) PutNumberRule(ctx context.Context, tenant string, r *numbers.Rule) error {
	pats, err := json.Marshal(r.Patterns)
	if err != nil {
		return err
	}
	if r.Patterns == nil {
		pats = []byte("[]")
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO number_rules (ccid, name, countries, patterns, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (ccid, name) DO UPDATE SET countries = EXCLUDED.countries, patterns = EXCLUDED.patterns,
				updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
			tenant, r.Name, r.Countries, pats, r.UpdatedAt, r.UpdatedBy); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM number_rule_services WHERE ccid = $1 AND rule = $2`, tenant, r.Name); err != nil {
			return err
		}
		if len(r.Services) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO number_rule_services (ccid, service, rule)
			SELECT $1, unnest($2::text[]), $3
			ON CONFLICT (ccid, service) DO UPDATE SET rule = EXCLUDED.rule`, tenant, r.Services, r.Name)
		return err
	})
}

// DeleteNumberRule deletes a rule and its assignments; it reports whether
// the rule existed.
func (s *Store) DeleteNumberRule(ctx context.Context, tenant, name string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM number_rules WHERE ccid = $1 AND name = $2`, tenant, name)
	return tag.RowsAffected() > 0, err
}
