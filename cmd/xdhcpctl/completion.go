package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// commandArgs are the commands xdhcpd answers, each with the argument
// names it takes, for shell completion.
var commandArgs = map[string][]string{
	"config-backend-pull":              nil,
	"remote-class4-del":                {"client-classes", "remote"},
	"remote-class4-get":                {"client-classes", "remote"},
	"remote-class4-get-all":            {"server-tags", "remote"},
	"remote-class4-set":                {"client-classes", "server-tags", "remote"},
	"remote-global-parameter4-del":     {"parameters", "server-tags", "remote"},
	"remote-global-parameter4-get":     {"parameters", "server-tags", "remote"},
	"remote-global-parameter4-get-all": {"server-tags", "remote"},
	"remote-global-parameter4-set":     {"parameters", "server-tags", "remote"},
	"remote-network4-del":              {"shared-networks", "subnets-action", "remote"},
	"remote-network4-get":              {"shared-networks", "subnets-include", "remote"},
	"remote-network4-list":             {"server-tags", "remote"},
	"remote-network4-set":              {"shared-networks", "server-tags", "remote"},
	"remote-option-def4-del":           {"option-defs", "server-tags", "remote"},
	"remote-option-def4-get":           {"option-defs", "server-tags", "remote"},
	"remote-option-def4-get-all":       {"server-tags", "remote"},
	"remote-option-def4-set":           {"option-defs", "server-tags", "remote"},
	"remote-option4-global-del":        {"options", "server-tags", "remote"},
	"remote-option4-global-get":        {"options", "server-tags", "remote"},
	"remote-option4-global-get-all":    {"server-tags", "remote"},
	"remote-option4-global-set":        {"options", "server-tags", "remote"},
	"remote-option4-network-del":       {"shared-networks", "options", "remote"},
	"remote-option4-network-set":       {"shared-networks", "options", "remote"},
	"remote-option4-pool-del":          {"pools", "options", "remote"},
	"remote-option4-pool-set":          {"pools", "options", "remote"},
	"remote-option4-subnet-del":        {"subnets", "options", "remote"},
	"remote-option4-subnet-set":        {"subnets", "options", "remote"},
	"remote-server4-del":               {"servers", "remote"},
	"remote-server4-get":               {"servers", "remote"},
	"remote-server4-get-all":           {"remote"},
	"remote-server4-set":               {"servers", "remote"},
	"remote-subnet4-del-by-id":         {"subnets", "remote"},
	"remote-subnet4-del-by-prefix":     {"subnets", "remote"},
	"remote-subnet4-get-by-id":         {"subnets", "remote"},
	"remote-subnet4-get-by-prefix":     {"subnets", "remote"},
	"remote-subnet4-list":              {"server-tags", "remote"},
	"remote-subnet4-set":               {"subnets", "server-tags", "remote"},
	"remote-class6-del":                {"client-classes", "remote"},
	"remote-class6-get":                {"client-classes", "remote"},
	"remote-class6-get-all":            {"server-tags", "remote"},
	"remote-class6-set":                {"client-classes", "server-tags", "remote"},
	"remote-global-parameter6-del":     {"parameters", "server-tags", "remote"},
	"remote-global-parameter6-get":     {"parameters", "server-tags", "remote"},
	"remote-global-parameter6-get-all": {"server-tags", "remote"},
	"remote-global-parameter6-set":     {"parameters", "server-tags", "remote"},
	"remote-network6-del":              {"shared-networks", "subnets-action", "remote"},
	"remote-network6-get":              {"shared-networks", "subnets-include", "remote"},
	"remote-network6-list":             {"server-tags", "remote"},
	"remote-network6-set":              {"shared-networks", "server-tags", "remote"},
	"remote-option-def6-del":           {"option-defs", "server-tags", "remote"},
	"remote-option-def6-get":           {"option-defs", "server-tags", "remote"},
	"remote-option-def6-get-all":       {"server-tags", "remote"},
	"remote-option-def6-set":           {"option-defs", "server-tags", "remote"},
	"remote-option6-global-del":        {"options", "server-tags", "remote"},
	"remote-option6-global-get":        {"options", "server-tags", "remote"},
	"remote-option6-global-get-all":    {"server-tags", "remote"},
	"remote-option6-global-set":        {"options", "server-tags", "remote"},
	"remote-option6-network-del":       {"shared-networks", "options", "remote"},
	"remote-option6-network-set":       {"shared-networks", "options", "remote"},
	"remote-option6-pool-del":          {"pools", "options", "remote"},
	"remote-option6-pool-set":          {"pools", "options", "remote"},
	"remote-option6-subnet-del":        {"subnets", "options", "remote"},
	"remote-option6-subnet-set":        {"subnets", "options", "remote"},
	"remote-server6-del":               {"servers", "remote"},
	"remote-server6-get":               {"servers", "remote"},
	"remote-server6-get-all":           {"remote"},
	"remote-server6-set":               {"servers", "remote"},
	"remote-subnet6-del-by-id":         {"subnets", "remote"},
	"remote-subnet6-del-by-prefix":     {"subnets", "remote"},
	"remote-subnet6-get-by-id":         {"subnets", "remote"},
	"remote-subnet6-get-by-prefix":     {"subnets", "remote"},
	"remote-subnet6-list":              {"server-tags", "remote"},
	"remote-subnet6-set":               {"subnets", "server-tags", "remote"},
	"remote-option6-pd-pool-del":       {"pd-pools", "options", "remote"},
	"remote-option6-pd-pool-set":       {"pd-pools", "options", "remote"},
	"build-report":                     nil,
	"config-get":                       nil,
	"config-reload":                    nil,
	"config-set":                       {"Dhcp4"},
	"config-test":                      {"Dhcp4"},
	"config-write":                     {"filename"},
	"dhcp-disable":                     {"max-period", "origin"},
	"dhcp-enable":                      {"origin"},
	"ha-continue":                      {"server-name"},
	"ha-heartbeat":                     {"server-name"},
	"ha-maintenance-cancel":            {"server-name"},
	"ha-maintenance-notify":            {"cancel", "server-name"},
	"ha-maintenance-start":             {"server-name"},
	"ha-reset":                         {"server-name"},
	"ha-scopes":                        {"scopes", "server-name"},
	"ha-sync":                          {"server-name", "max-period"},
	"ha-sync-complete-notify":          {"server-name"},
	"lease4-add":                       leaseFields,
	"lease4-del":                       {"ip-address", "identifier-type", "identifier", "subnet-id"},
	"lease4-get":                       {"ip-address", "identifier-type", "identifier", "subnet-id"},
	"lease4-get-all":                   {"subnets"},
	"lease4-get-by-client-id":          {"client-id"},
	"lease4-get-by-hostname":           {"hostname"},
	"lease4-get-by-hw-address":         {"hw-address"},
	"lease4-get-page":                  {"from", "limit"},
	"lease4-update":                    leaseFields,
	"lease4-wipe":                      {"subnet-id"},
	"leases-reclaim":                   {"remove"},
	"list-commands":                    nil,
	"reservation-add":                  {"reservation"},
	"reservation-del":                  {"subnet-id", "ip-address", "identifier-type", "identifier"},
	"reservation-get":                  {"subnet-id", "ip-address", "identifier-type", "identifier"},
	"reservation-get-all":              {"subnet-id"},
	"reservation-get-by-hostname":      {"hostname", "subnet-id"},
	"reservation-get-by-id":            {"identifier-type", "identifier"},
	"reservation-get-page":             {"limit", "subnet-id", "source-index", "from"},
	"server-tag-get":                   nil,
	"shutdown":                         {"exit-value"},
	"stat-lease4-get":                  {"subnet-id", "subnet-range"},
	"statistic-get":                    {"name"},
	"statistic-get-all":                nil,
	"statistic-remove":                 {"name"},
	"statistic-remove-all":             nil,
	"statistic-reset":                  {"name"},
	"statistic-reset-all":              nil,
	"statistic-sample-age-set":         {"name", "duration"},
	"statistic-sample-age-set-all":     {"duration"},
	"statistic-sample-count-set":       {"name", "max-samples"},
	"statistic-sample-count-set-all":   {"max-samples"},
	"status-get":                       nil,
	"version-get":                      nil,
	"xdhcp-drop-add":                   {"hw-address", "client-id"},
	"xdhcp-drop-del":                   {"hw-address", "client-id"},
	"xdhcp-drop-list":                  nil,
}

var leaseFields = []string{"ip-address", "hw-address", "client-id", "subnet-id", "valid-lft", "expire",
	"hostname", "state", "fqdn-fwd", "fqdn-rev", "user-context", "force-create"}

// completionFlags are the flags completion offers, and which of them take
// a file name.
var (
	completionFlags = []string{"-url", "-socket", "-user", "-password-file", "-ca", "-cert", "-key",
		"-service", "-timeout", "-o", "-j", "-config", "-V", "-h"}
	fileFlags = []string{"-socket", "-password-file", "-ca", "-cert", "-key", "-config"}
)

// printCompletion writes the completion script for the shell named in
// args.
func printCompletion(w io.Writer, args []string) error {
	const usage = "usage: xdhcpctl completion bash|zsh (then: source <(xdhcpctl completion bash))"
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		_, err := fmt.Fprintln(w, usage)
		return err
	}
	if len(args) != 1 {
		return usagef("%s", usage)
	}
	script := bashCompletion()
	switch args[0] {
	case "bash":
	case "zsh":
		// zsh runs bash completion functions through bashcompinit.
		script = "autoload -U +X bashcompinit && bashcompinit\n" + script
	default:
		return usagef("completion for %q: want bash or zsh", args[0])
	}
	_, err := io.WriteString(w, script)
	return err
}

// bashCompletion builds the script: flags, the values of -o, file names
// after the flags that take one, the command names (and "completion")
// for the first word, and key= argument names after a command.
func bashCompletion() string {
	names := make([]string, 0, len(commandArgs))
	for c := range commandArgs {
		names = append(names, c)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# bash completion for xdhcpctl: source <(xdhcpctl completion bash)\n")
	b.WriteString("_xdhcpctl() {\n")
	b.WriteString("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	b.WriteString("    case $prev in\n")
	fmt.Fprintf(&b, "        %s) COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n", strings.Join(fileFlags, "|"))
	b.WriteString("        -o) COMPREPLY=($(compgen -W 'table json' -- \"$cur\")); return;;\n")
	b.WriteString("        -url|-user|-service|-timeout) return;;\n")
	b.WriteString("    esac\n")
	b.WriteString("    local i cmd=\n")
	b.WriteString("    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	b.WriteString("        case ${COMP_WORDS[i]} in\n")
	fmt.Fprintf(&b, "            %s|-o|-url|-user|-service|-timeout) ((i++));;\n", strings.Join(fileFlags, "|"))
	b.WriteString("            -*) ;;\n")
	b.WriteString("            *) cmd=${COMP_WORDS[i]}; break;;\n")
	b.WriteString("        esac\n")
	b.WriteString("    done\n")
	b.WriteString("    if [[ -z $cmd ]]; then\n")
	b.WriteString("        if [[ $cur == -* ]]; then\n")
	fmt.Fprintf(&b, "            COMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n", strings.Join(completionFlags, " "))
	b.WriteString("        else\n")
	fmt.Fprintf(&b, "            COMPREPLY=($(compgen -W 'completion %s' -- \"$cur\"))\n", strings.Join(names, " "))
	b.WriteString("        fi\n")
	b.WriteString("        return\n")
	b.WriteString("    fi\n")
	b.WriteString("    local args=\n")
	b.WriteString("    case $cmd in\n")
	b.WriteString("        completion) COMPREPLY=($(compgen -W 'bash zsh' -- \"$cur\")); return;;\n")
	for _, c := range names {
		if len(commandArgs[c]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "        %s) args='%s=';;\n", c, strings.Join(commandArgs[c], "= "))
	}
	b.WriteString("    esac\n")
	b.WriteString("    [[ $cur == *=* ]] && return\n")
	b.WriteString("    COMPREPLY=($(compgen -W \"$args\" -- \"$cur\"))\n")
	b.WriteString("    compopt -o nospace 2>/dev/null\n")
	b.WriteString("}\n")
	b.WriteString("complete -F _xdhcpctl xdhcpctl\n")
	return b.String()
}
