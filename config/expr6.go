package config

import (
	"encoding/json"
	"fmt"

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
	var raw map[string]json.RawMessage
	if len(params) > 0 {
		if err := json.Unmarshal(params, &raw); err != nil {
			q.errorf(path+".parameters", "%v", err)
			return nil
		}
	}
	f := &FlexID6{}
	for k, v := range raw {
		kp := path + ".parameters." + k
		switch k {
		case "identifier-expression":
			var src string
			if err := json.Unmarshal(v, &src); err != nil {
				q.errorf(kp, "expected a string expression")
				continue
			}
			if src == "" {
				q.warnf(kp, "empty expression: no client has a flex-id")
				continue
			}
			f.Expr = q.compile6(kp, src, true)
		case "replace-client-id":
			if err := json.Unmarshal(v, &f.ReplaceClientID); err != nil {
				q.errorf(kp, "expected a boolean, got %s", kindOf(v))
			}
		case "ignore-iaid":
			if err := json.Unmarshal(v, &f.IgnoreIAID); err != nil {
				q.errorf(kp, "expected a boolean, got %s", kindOf(v))
			}
		case "comment":
		default:
			q.errorf(kp, "unknown parameter of the flex-id hook")
		}
	}
	if _, ok := raw["identifier-expression"]; !ok {
		q.errorf(path+".parameters", "%s", fmt.Sprintf("%s needs identifier-expression", hookFlexID))
		return nil
	}
	return f
}
