package docgen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
)

// Troubleshooting renders the troubleshooting page from the self-test's
// table of checks: what each checks and, for each way it warns or fails,
// what to do.
func Troubleshooting() []byte {
	var b bytes.Buffer
	header(&b, "Troubleshooting", "the self-test's table of checks (internal/commandcenter)")
	b.WriteString("Start with the Command Center's connectivity self-test. Run it beside the Command Center, with " +
		"its data directory and cloud URL:\n\n" +
		"```sh\nfusionfleet commandcenter check -data DIR -cloud https://CLOUD\n```\n\n" +
		"It prints one line per check (`ok`, `warning` or `failed`, the check, what it found) and exits 1 when a " +
		"check failed. It only looks: it changes no setting and sends the cloud one HEAD request. The local UI's " +
		"Self-test page runs the same checks. A printer checks its own subsystems on `GET /v1/selftest` " +
		"(see the [device API](api/device.md)); the cloud can ask for it as a remote diagnostic.\n\n" +
		"Each check below lists what it looks at and, for each way it warns or fails, what to do. " +
		"Where the advice says …, the report names the value.\n\n")
	for _, c := range commandcenter.SelfTestChecks() {
		name := c.Name
		if strings.HasSuffix(name, " ") {
			name += "NAME"
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", name, c.Checks)
		b.WriteString("| status | the report says | what to do |\n|---|---|---|\n")
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", p.Status, cell(p.Says), cell(advice(p.Advice)))
		}
		b.WriteString("\n")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// advice makes an advice a sentence, its values elided.
func advice(s string) string {
	s = strings.ReplaceAll(s, "%s", "…")
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
