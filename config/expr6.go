package config

import (
	"encoding/json"

	"xdhcp/config/classify"
	"xdhcp/config/optiondef"
)

// compile6 compiles a DHCPv6 expression (a test, or a string expression
// when asString) at path; nil after an error.
func (q *parser6) compile6(path, src string, asString bool) *classify.Expr {
	defs := q.defs
	e, err := classify.CompileWith6(src, classify.Resolver6{
		Code: func(name string) (uint16, bool) {
			if d := defs.name(optiondef.Space6, name); d != nil {
				return d.Code, true
			}
			return 0, false
		},
		Def: func(code uint16) *optiondef.Def6 { return defs.code(optiondef.Space6, code) },
	}, asString)
	if err != nil {
		q.errorf(path, "%q: %v", src, err)
		return nil
	}
	return e
}

// flexIDHook6 parses the flex-id hook's parameters for DHCPv6:
// identifier-expression (a string expression over DHCPv6 packets),
// replace-client-id and ignore-iaid.
func (q *parser6) flexIDHook6(path string, params json.RawMessage) *FlexID6 {
	return q.flexIDParams(path, params, func(kp, src string) *classify.Expr { return q.compile6(kp, src, true) })
}
