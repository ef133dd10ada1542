package cbcmd

import (
	"context"
	"fmt"
	"net/netip"

	"xdhcp/configdb"
	"xdhcp/control"
)

func serverSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	l, err := a.objects("servers", true)
	if err != nil {
		return fail(err)
	}
	tag, _ := l[0]["server-tag"].(string)
	desc, _ := l[0]["description"].(string)
	if err := db.SetServer(ctx, tag, desc); err != nil {
		return fail(err)
	}
	return ok(db.Family()+" server successfully set.", map[string]any{"servers": []any{map[string]any{"server-tag": tag, "description": desc}}})
}

func serverGet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	l, err := a.objects("servers", true)
	if err != nil {
		return fail(err)
	}
	tag, _ := l[0]["server-tag"].(string)
	s, err := db.Servers(ctx, tag)
	if err != nil {
		return fail(err)
	}
	if len(s) == 0 {
		return empty(fmt.Sprintf("DHCP server '%s' not found.", tag), map[string]any{"servers": []any{}, "count": 0})
	}
	return ok(fmt.Sprintf("DHCP server '%s' found.", tag), map[string]any{"servers": s, "count": 1})
}

func serverGetAll(ctx context.Context, db *configdb.DB, _ args) control.Answer {
	s, err := db.Servers(ctx, "")
	if err != nil {
		return fail(err)
	}
	text := fmt.Sprintf("%d "+db.Family()+" server(s) found.", len(s))
	if len(s) == 0 {
		return empty(text, map[string]any{"servers": s, "count": 0})
	}
	return ok(text, map[string]any{"servers": s, "count": len(s)})
}

func serverDel(ctx context.Context, db *configdb.DB, a args) control.Answer {
	l, err := a.objects("servers", true)
	if err != nil {
		return fail(err)
	}
	tag, _ := l[0]["server-tag"].(string)
	n, err := db.DelServer(ctx, tag)
	if err != nil {
		return fail(err)
	}
	return deleted(n, db.Family()+" server(s)")
}

func deleted(n int64, what string) control.Answer {
	text := fmt.Sprintf("%d %s deleted.", n, what)
	if n == 0 {
		return empty(text, map[string]any{"count": 0})
	}
	return ok(text, map[string]any{"count": n})
}

func globalSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	p, ok2 := a["parameters"].(map[string]any)
	if !ok2 || len(p) == 0 {
		return control.Errorf("'parameters' must be a non-empty map")
	}
	if err := db.SetGlobals(ctx, tag, p); err != nil {
		return fail(err)
	}
	return ok(db.Family()+" global parameter(s) successfully set.", map[string]any{"parameters": p, "count": len(p)})
}

func names(a args, key string) ([]string, error) {
	l, ok := a[key].([]any)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("'%s' must be a non-empty list of names", key)
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("'%s' must be a list of strings", key)
		}
		out = append(out, s)
	}
	return out, nil
}

func globalGet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	want, err := names(a, "parameters")
	if err != nil {
		return fail(err)
	}
	p, from, err := db.Globals(ctx, tag, true, want[:1])
	if err != nil {
		return fail(err)
	}
	if len(p) == 0 {
		return empty(fmt.Sprintf(db.Family()+" global parameter '%s' not found.", want[0]), map[string]any{"parameters": map[string]any{}, "count": 0})
	}
	out := map[string]any{want[0]: p[want[0]], "metadata": map[string]any{"server-tags": []string{from[want[0]]}}}
	return ok(fmt.Sprintf(db.Family()+" global parameter '%s' found.", want[0]), map[string]any{"parameters": out, "count": 1})
}

func globalGetAll(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	p, from, err := db.Globals(ctx, tag, true, nil)
	if err != nil {
		return fail(err)
	}
	l := []any{}
	for k, v := range p {
		l = append(l, map[string]any{k: v, "metadata": map[string]any{"server-tags": []string{from[k]}}})
	}
	text := fmt.Sprintf("%d "+db.Family()+" global parameter(s) found.", len(l))
	if len(l) == 0 {
		return empty(text, map[string]any{"parameters": l, "count": 0})
	}
	return ok(text, map[string]any{"parameters": l, "count": len(l)})
}

func globalDel(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	want, err := names(a, "parameters")
	if err != nil {
		return fail(err)
	}
	n, err := db.DelGlobals(ctx, tag, want)
	if err != nil {
		return fail(err)
	}
	return deleted(n, db.Family()+" global parameter(s)")
}

func subnetSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tags, err := a.tags(true)
	if err != nil {
		return fail(err)
	}
	l, err := a.objects("subnets", true)
	if err != nil {
		return fail(err)
	}
	id, prefix, err := db.SetSubnet(ctx, tags, l[0])
	if err != nil {
		return fail(err)
	}
	return ok(db.IPFamily()+" subnet successfully set.", map[string]any{"subnets": []any{map[string]any{"id": id, "subnet": prefix}}})
}

// subnetKey is the id or prefix a get-by/del-by command names.
func subnetKey(db *configdb.DB, a args, byPrefix bool) (uint32, string, error) {
	l, err := a.objects("subnets", true)
	if err != nil {
		return 0, "", err
	}
	if byPrefix {
		s, _ := l[0]["subnet"].(string)
		p, err := netip.ParsePrefix(s)
		if err != nil || !db.IsFamily(p.Addr()) {
			return 0, "", fmt.Errorf("'subnet' %q is not an %s prefix", s, db.IPFamily())
		}
		return 0, p.Masked().String(), nil
	}
	id, ok := num(l[0]["id"])
	if !ok {
		return 0, "", fmt.Errorf("'id' parameter must be a subnet identifier")
	}
	return uint32(id), "", nil
}

func subnetGet(byPrefix bool) handler {
	return func(ctx context.Context, db *configdb.DB, a args) control.Answer {
		id, prefix, err := subnetKey(db, a, byPrefix)
		if err != nil {
			return fail(err)
		}
		s, err := db.GetSubnet(ctx, id, prefix)
		if err != nil {
			return fail(err)
		}
		what := fmt.Sprint(id)
		if byPrefix {
			what = prefix
		}
		if s == nil {
			return empty(fmt.Sprintf(db.IPFamily()+" subnet %s not found.", what), map[string]any{"subnets": []any{}, "count": 0})
		}
		if _, has := s["shared-network-name"]; !has {
			s["shared-network-name"] = nil
		}
		return ok(fmt.Sprintf(db.IPFamily()+" subnet %s found.", what), map[string]any{"subnets": []any{s}, "count": 1})
	}
}

func subnetList(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tags, err := a.tags(false)
	if err != nil {
		return fail(err)
	}
	if tags == nil {
		tags = []string{configdb.TagAll}
	}
	all, err := db.Subnets(ctx, tags)
	if err != nil {
		return fail(err)
	}
	l := []any{}
	for _, s := range all {
		l = append(l, map[string]any{"id": s["id"], "subnet": s["subnet"], "shared-network-name": s["shared-network-name"], "metadata": s["metadata"]})
	}
	text := fmt.Sprintf("%d "+db.IPFamily()+" subnet(s) found.", len(l))
	if len(l) == 0 {
		return empty(text, map[string]any{"subnets": l, "count": 0})
	}
	return ok(text, map[string]any{"subnets": l, "count": len(l)})
}

func subnetDel(byPrefix bool) handler {
	return func(ctx context.Context, db *configdb.DB, a args) control.Answer {
		id, prefix, err := subnetKey(db, a, byPrefix)
		if err != nil {
			return fail(err)
		}
		n, err := db.DelSubnet(ctx, id, prefix)
		if err != nil {
			return fail(err)
		}
		return deleted(n, db.IPFamily()+" subnet(s)")
	}
}

func networkSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tags, err := a.tags(true)
	if err != nil {
		return fail(err)
	}
	l, err := a.objects("shared-networks", true)
	if err != nil {
		return fail(err)
	}
	name, err := db.SetNetwork(ctx, tags, l[0])
	if err != nil {
		return fail(err)
	}
	return ok(db.IPFamily()+" shared network successfully set.", map[string]any{"shared-networks": []any{map[string]any{"name": name}}})
}

func networkName(a args) (string, error) {
	l, err := a.objects("shared-networks", true)
	if err != nil {
		return "", err
	}
	n, _ := l[0]["name"].(string)
	if n == "" {
		return "", fmt.Errorf("'name' parameter must be a shared network name")
	}
	return n, nil
}

func networkGet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	name, err := networkName(a)
	if err != nil {
		return fail(err)
	}
	n, err := db.GetNetwork(ctx, name)
	if err != nil {
		return fail(err)
	}
	if n == nil {
		return empty(fmt.Sprintf(db.IPFamily()+" shared network '%s' not found.", name), map[string]any{"shared-networks": []any{}, "count": 0})
	}
	if a["subnets-include"] == "full" {
		subs, err := db.Subnets(ctx, []string{configdb.TagAll})
		if err != nil {
			return fail(err)
		}
		in := []any{}
		for _, s := range subs {
			if s["shared-network-name"] == name {
				in = append(in, s)
			}
		}
		n["subnet4"] = in
	}
	return ok(fmt.Sprintf(db.IPFamily()+" shared network '%s' found.", name), map[string]any{"shared-networks": []any{n}, "count": 1})
}

func networkList(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tags, err := a.tags(false)
	if err != nil {
		return fail(err)
	}
	if tags == nil {
		tags = []string{configdb.TagAll}
	}
	all, err := db.Networks(ctx, tags)
	if err != nil {
		return fail(err)
	}
	l := []any{}
	for _, n := range all {
		l = append(l, map[string]any{"name": n["name"], "metadata": n["metadata"]})
	}
	text := fmt.Sprintf("%d "+db.IPFamily()+" shared network(s) found.", len(l))
	if len(l) == 0 {
		return empty(text, map[string]any{"shared-networks": l, "count": 0})
	}
	return ok(text, map[string]any{"shared-networks": l, "count": len(l)})
}

func networkDel(ctx context.Context, db *configdb.DB, a args) control.Answer {
	name, err := networkName(a)
	if err != nil {
		return fail(err)
	}
	action := "keep"
	if s, ok := a["subnets-action"].(string); ok {
		action = s
	}
	if action != "keep" && action != "delete" {
		return control.Errorf("'subnets-action' must be 'keep' or 'delete'")
	}
	n, err := db.DelNetwork(ctx, name, action == "delete")
	if err != nil {
		return fail(err)
	}
	return deleted(n, db.IPFamily()+" shared network(s)")
}

func optionSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	l, err := a.objects("options", true)
	if err != nil {
		return fail(err)
	}
	if err := db.SetGlobalOption(ctx, []string{tag}, l[0]); err != nil {
		return fail(err)
	}
	code, space := db.OptionKey(l[0])
	return ok(db.Family()+" option set.", map[string]any{"options": []any{map[string]any{"code": code, "space": space}}})
}

func optionGetAll(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	l, err := db.GlobalOptions(ctx, []string{tag})
	if err != nil {
		return fail(err)
	}
	for _, o := range l {
		o.(map[string]any)["metadata"] = map[string]any{"server-tags": []string{tag}}
	}
	text := fmt.Sprintf("%d "+db.Family()+" option(s) found.", len(l))
	if len(l) == 0 {
		return empty(text, map[string]any{"options": l, "count": 0})
	}
	return ok(text, map[string]any{"options": l, "count": len(l)})
}

func optionGet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	want, err := a.objects("options", true)
	if err != nil {
		return fail(err)
	}
	code, space := db.OptionKey(want[0])
	l, err := db.GlobalOptions(ctx, []string{tag})
	if err != nil {
		return fail(err)
	}
	for _, o := range l {
		c, s := db.OptionKey(o.(map[string]any))
		if c == code && s == space {
			o.(map[string]any)["metadata"] = map[string]any{"server-tags": []string{tag}}
			return ok(db.Family()+" option is found.", map[string]any{"options": []any{o}, "count": 1})
		}
	}
	return empty(fmt.Sprintf(db.Family()+" option %d in '%s' not found.", code, space), map[string]any{"options": []any{}, "count": 0})
}

func optionDel(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tag, err := a.oneTag()
	if err != nil {
		return fail(err)
	}
	want, err := a.objects("options", true)
	if err != nil {
		return fail(err)
	}
	code, space := db.OptionKey(want[0])
	n, err := db.DelGlobalOption(ctx, []string{tag}, code, space)
	if err != nil {
		return fail(err)
	}
	return deleted(n, db.Family()+" option(s)")
}

func classSet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tags, err := a.tags(true)
	if err != nil {
		return fail(err)
	}
	l, err := a.objects("client-classes", true)
	if err != nil {
		return fail(err)
	}
	c := l[0]
	follow, _ := c["follow-class-name"].(string)
	delete(c, "follow-class-name")
	name, err := db.SetClass(ctx, tags, c, follow)
	if err != nil {
		return fail(err)
	}
	return ok(db.Family()+" client class successfully set.", map[string]any{"client-classes": []any{map[string]any{"name": name}}})
}

func className(a args) (string, error) {
	l, err := a.objects("client-classes", true)
	if err != nil {
		return "", err
	}
	n, _ := l[0]["name"].(string)
	if n == "" {
		return "", fmt.Errorf("'name' parameter must be a client class name")
	}
	return n, nil
}

func classGet(ctx context.Context, db *configdb.DB, a args) control.Answer {
	name, err := className(a)
	if err != nil {
		return fail(err)
	}
	c, err := db.GetClass(ctx, name)
	if err != nil {
		return fail(err)
	}
	if c == nil {
		return empty(fmt.Sprintf(db.Family()+" client class '%s' not found.", name), map[string]any{"client-classes": []any{}, "count": 0})
	}
	return ok(fmt.Sprintf(db.Family()+" client class '%s' found.", name), map[string]any{"client-classes": []any{c}, "count": 1})
}

func classGetAll(ctx context.Context, db *configdb.DB, a args) control.Answer {
	tags, err := a.tags(false)
	if err != nil {
		return fail(err)
	}
	if tags == nil {
		tags = []string{configdb.TagAll}
	}
	l, err := db.Classes(ctx, tags)
	if err != nil {
		return fail(err)
	}
	text := fmt.Sprintf("%d "+db.Family()+" client class(es) found.", len(l))
	if len(l) == 0 {
		return empty(text, map[string]any{"client-classes": l, "count": 0})
	}
	return ok(text, map[string]any{"client-classes": l, "count": len(l)})
}

func classDel(ctx context.Context, db *configdb.DB, a args) control.Answer {
	name, err := className(a)
	if err != nil {
		return fail(err)
	}
	n, err := db.DelClass(ctx, name)
	if err != nil {
		return fail(err)
	}
	return deleted(n, db.Family()+" client class(es)")
}
