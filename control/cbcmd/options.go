package cbcmd

import (
	"context"
	"fmt"

	"xdhcp/configdb"
	"xdhcp/control"
)

func optionDefSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	l, err := a.objects("option-defs", true)
	if err != nil {
		return fail(err)
	}
	code, space, err := db.SetOptionDef(ctx, tag, l[0])
	if err != nil {
		return fail(err)
	}
	return ok(db.Family()+" option definition set.", map[string]any{"option-defs": []any{map[string]any{"code": code, "space": space}}})
}

// defKey is the code and space a get or del names.
func defKey(db *configdb.DB, a args) (int, string, error) {
	l, err := a.objects("option-defs", true)
	if err != nil {
		return 0, "", err
	}
	code, space := db.OptionKey(l[0])
	if code == 0 {
		return 0, "", fmt.Errorf("'code' parameter must be an option code")
	}
	return code, space, nil
}

func optionDefGet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	code, space, err := defKey(db, a)
	if err != nil {
		return fail(err)
	}
	tags := []string{tag}
	if tag != configdb.TagAll {
		tags = append(tags, configdb.TagAll)
	}
	defs, err := db.OptionDefs(ctx, tags)
	if err != nil {
		return fail(err)
	}
	for _, x := range defs {
		def := x.(map[string]any)
		if c, s := db.OptionKey(def); c == code && s == space {
			def["metadata"] = map[string]any{"server-tags": []string{tag}}
			return ok(db.Family()+" option definition found.", map[string]any{"option-defs": []any{def}, "count": 1})
		}
	}
	return empty(fmt.Sprintf(db.Family()+" option definition %d in '%s' not found.", code, space), map[string]any{"option-defs": []any{}, "count": 0})
}

func optionDefGetAll(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	defs, err := db.OptionDefs(ctx, []string{tag})
	if err != nil {
		return fail(err)
	}
	for _, x := range defs {
		x.(map[string]any)["metadata"] = map[string]any{"server-tags": []string{tag}}
	}
	text := fmt.Sprintf("%d "+db.Family()+" option definition(s) found.", len(defs))
	if len(defs) == 0 {
		return empty(text, map[string]any{"option-defs": defs, "count": 0})
	}
	return ok(text, map[string]any{"option-defs": defs, "count": len(defs)})
}

func optionDefDel(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	code, space, err := defKey(db, a)
	if err != nil {
		return fail(err)
	}
	n, err := db.DelOptionDef(ctx, tag, code, space)
	if err != nil {
		return fail(err)
	}
	return deleted(n, db.Family()+" option definition(s)")
}

// scopeKey is the subnet id, shared network name or pool a scoped option
// command names.
func scopeKey(a args, scope string) (any, error) {
	switch scope {
	case "subnet":
		l, err := a.objects("subnets", true)
		if err != nil {
			return nil, err
		}
		id, isNum := num(l[0]["id"])
		if !isNum {
			return nil, fmt.Errorf("'id' parameter must be a subnet identifier")
		}
		return id, nil
	case "network":
		return networkName(a)
	case "pd-pool":
		l, err := a.objects("pd-pools", true)
		if err != nil {
			return nil, err
		}
		p, _ := l[0]["prefix"].(string)
		n, isNum := num(l[0]["prefix-len"])
		if p == "" || !isNum {
			return nil, fmt.Errorf("'prefix' and 'prefix-len' parameters must name a prefix delegation pool")
		}
		return fmt.Sprintf("%s/%d", p, n), nil
	default:
		l, err := a.objects("pools", true)
		if err != nil {
			return nil, err
		}
		p, _ := l[0]["pool"].(string)
		if p == "" {
			return nil, fmt.Errorf("'pool' parameter must be a pool range or prefix")
		}
		return p, nil
	}
}

// scopedOption is the owner and the option a scoped option command names.
func scopedOption(a args, scope string) (any, map[string]any, error) {
	key, err := scopeKey(a, scope)
	if err != nil {
		return nil, nil, err
	}
	l, err := a.objects("options", true)
	if err != nil {
		return nil, nil, err
	}
	return key, l[0], nil
}

func scopedOptionSet(scope string) handler {
	return func(ctx context.Context, db *configdb.DB, a args) control.Answer {
		key, o, err := scopedOption(a, scope)
		if err != nil {
			return fail(err)
		}
		l := []map[string]any{o}
		if err := db.SetScopedOption(ctx, scope, key, l[0]); err != nil {
			return fail(err)
		}
		code, space := db.OptionKey(l[0])
		return ok(db.Family()+" option successfully set.", map[string]any{"options": []any{map[string]any{"code": code, "space": space}}})
	}
}

func scopedOptionDel(scope string) handler {
	return func(ctx context.Context, db *configdb.DB, a args) control.Answer {
		key, o, err := scopedOption(a, scope)
		if err != nil {
			return fail(err)
		}
		code, space := db.OptionKey(o)
		n, err := db.DelScopedOption(ctx, scope, key, code, space)
		if err != nil {
			return fail(err)
		}
		return deleted(n, db.Family()+" option(s)")
	}
}
