package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"

	"xdhcp/config"
	"xdhcp/control"
	"xdhcp/control/client"
)

// registerCommands adds the daemon-level commands: configuration,
// version, status and shutdown.
func (d *daemon) registerCommands() {
	c := d.ctl
	c.Handle("version-get", func(context.Context, *control.Request) control.Answer {
		return control.Answer{Result: control.ResultSuccess, Text: version,
			Arguments: map[string]any{"extended": versionText() + "\ngo " + runtime.Version()}}
	})
	c.Handle("build-report", func(context.Context, *control.Request) control.Answer {
		return control.Answer{Result: control.ResultSuccess,
			Text: versionText() + "\ngo: " + runtime.Version() + "\nlease backends: memfile (Kea CSV)\n"}
	})
	c.Handle("config-get", func(context.Context, *control.Request) control.Answer {
		return control.Answer{Result: control.ResultSuccess, Arguments: d.srv.Config().Redacted()}
	})
	c.Handle("config-test", func(_ context.Context, req *control.Request) control.Answer {
		cfg, err := configFromArgs(req)
		if err == nil {
			err = cfg.CheckInterfaces(interfaceExists) // as Kea's config-test
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		return control.Answer{Result: control.ResultSuccess, Text: "Configuration seems sane.", Arguments: warnings(cfg)}
	})
	c.Handle("config-set", func(_ context.Context, req *control.Request) control.Answer {
		cfg, err := configFromArgs(req)
		if err != nil {
			return control.Errorf("%v", err)
		}
		if err := d.reload(cfg); err != nil {
			return control.Errorf("%v", err)
		}
		return control.Answer{Result: control.ResultSuccess, Text: "Configuration successful.", Arguments: warnings(cfg)}
	})
	c.Handle("config-reload", func(context.Context, *control.Request) control.Answer {
		if d.cfgPath == "" {
			return control.Errorf("Config reload failed: the server runs on its embedded configuration (no -c file)")
		}
		if err := d.reload(nil); err != nil {
			return control.Errorf("Config reload failed: %v", err)
		}
		return control.Answer{Result: control.ResultSuccess, Text: "Configuration successful."}
	})
	c.Handle("config-write", func(_ context.Context, req *control.Request) control.Answer {
		var a struct {
			Filename string `json:"filename"`
		}
		if len(req.Arguments) > 0 {
			if err := json.Unmarshal(req.Arguments, &a); err != nil {
				return control.Errorf("invalid arguments: %v", err)
			}
		}
		// Only inside the configuration file's directory, as Kea 2.6.3
		// allows, and never through a planted link.
		path, err := control.ConfigWritePath(d.cfgPath, a.Filename)
		if err != nil {
			return control.Errorf("Unable to determine filename: %v", err)
		}
		a.Filename = path
		// Write the document as loaded (secrets included: it is the
		// operator's own file).
		raw := d.srv.Config().Raw
		if err := control.WriteFileAtomic(path, raw); err != nil {
			return control.Errorf("Unable to write configuration: %v", err)
		}
		return control.Answer{Result: control.ResultSuccess, Text: "Configuration written to " + a.Filename + " successful",
			Arguments: map[string]any{"filename": a.Filename, "size": len(raw)}}
	})
	c.Handle("server-tag-get", func(context.Context, *control.Request) control.Answer {
		return control.Answer{Result: control.ResultSuccess, Arguments: map[string]any{"server-tag": d.srv.Config().ServerTag}}
	})
	c.Handle("status-get", func(_ context.Context, req *control.Request) control.Answer {
		cfg := d.srv.Config()
		if d.v6 != nil && (slices.Equal(req.Service, []string{client.ServiceDHCP6}) || len(req.Service) == 0 && !cfg.HasDhcp4) {
			args := d.v6.status(cfg, d.started, d.reloaded)
			if h := d.ha6(); h != nil {
				args["high-availability"] = h.Status()
			}
			return control.Answer{Result: control.ResultSuccess, Arguments: args}
		}
		args := map[string]any{
			"pid":                     os.Getpid(),
			"uptime":                  secondsSince(d.started),
			"reload":                  secondsSince(d.reloaded),
			"multi-threading-enabled": cfg.MultiThreading.Enable,
			"thread-pool-size":        cfg.MultiThreading.ThreadPoolSize,
			"packet-queue-size":       cfg.MultiThreading.PacketQueueSize,
			"packet-queue-statistics": d.srv.QueueStatistics(),
			"dhcp-state": map[string]any{
				"enabled":     d.srv.Network.Enabled(),
				"disabled-by": d.srv.Network.DisabledBy(),
			},
			"sockets":          map[string]any{"status": "ready"},
			"insecure-control": control.Exposed(cfg.ControlSockets),
		}
		// The family's HA, as kea-dhcp4 or kea-dhcp6 reports its own.
		if h := haFor(req, d.ha, d.ha6()); h != nil {
			args["high-availability"] = h.Status()
		}
		// xdhcp's own: how the kernel has the XDP program attached to
		// each served interface now (native, generic, none if detached).
		xdpModes := []map[string]any{}
		for _, m := range d.xdp.AttachModes() {
			xdpModes = append(xdpModes, map[string]any{"interface": m.Iface, "mode": m.Mode})
		}
		args["xdp"] = xdpModes
		return control.Answer{Result: control.ResultSuccess, Arguments: args}
	})
	c.Handle("shutdown", func(context.Context, *control.Request) control.Answer {
		d.shutdown()
		return control.Answer{Result: control.ResultSuccess, Text: "Shutting down."}
	})
}

// configFromArgs parses the configuration carried in a command's
// arguments (config-test, config-set): {"Dhcp4": {...}}.
func configFromArgs(req *control.Request) (*config.Config, error) {
	if len(req.Arguments) == 0 {
		return nil, fmt.Errorf("Missing mandatory 'arguments' parameter.")
	}
	return config.Parse(req.Arguments)
}

func warnings(cfg *config.Config) any {
	if len(cfg.Warnings) == 0 {
		return nil
	}
	return map[string]any{"warnings": cfg.Warnings}
}
