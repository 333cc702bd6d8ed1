package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ev is one go test -json line of package p.
func ev(action, test, output string) string {
	var b strings.Builder
	b.WriteString(`{"Action":"` + action + `","Package":"p"`)
	if test != "" {
		b.WriteString(`,"Test":"` + test + `"`)
	}
	if output != "" {
		b.WriteString(`,"Output":` + quote(output))
	}
	b.WriteString("}\n")
	return b.String()
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// out is the output lines of test in order, as events.
func out(test string, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(ev("output", test, l+"\n"))
	}
	return b.String()
}

func TestReport(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		want       string
		wantFailed bool
	}{{
		name: "a passing package shows its ok line only",
		in: ev("start", "", "") + ev("run", "TestA", "") + out("TestA", "=== RUN   TestA", "    a_test.go:3: chatter", "--- PASS: TestA (0.00s)") +
			ev("pass", "TestA", "") + out("", "PASS", "ok  \tp\t0.01s") + ev("pass", "", ""),
		want: "ok  \tp\t0.01s\n\nskipped tests: none\n",
	}, {
		name: "a skip shows at the end with its reason, without file and line",
		in: ev("run", "TestPG", "") + out("TestPG", "=== RUN   TestPG", "    pgtest.go:47: POSTGRESQL TESTS NOT RUN: no server at postgres://root@db:5432/test", "--- SKIP: TestPG (0.00s)") +
			ev("skip", "TestPG", "") + ev("run", "TestPG2", "") + out("TestPG2", "=== RUN   TestPG2", "    pgtest.go:47: POSTGRESQL TESTS NOT RUN: no server at postgres://root@db:5432/test", "--- SKIP: TestPG2 (0.00s)") +
			ev("skip", "TestPG2", "") + ev("run", "TestNow", "") + out("TestNow", "=== RUN   TestNow", "--- SKIP: TestNow (0.00s)") + ev("skip", "TestNow", "") +
			out("", "PASS", "ok  \tp\t0.01s") + ev("pass", "", ""),
		want: "ok  \tp\t0.01s\n\nskipped tests: 3\n" +
			"  2 skipped: POSTGRESQL TESTS NOT RUN: no server at postgres://root@db:5432/test\n      p TestPG\n      p TestPG2\n" +
			"  1 skipped: (no reason given)\n      p TestNow\n",
	}, {
		name: "a skipped subtest has its own reason; a test skipped after its subtests ran, its own",
		in: ev("run", "TestS", "") + out("TestS", "=== RUN   TestS") + ev("run", "TestS/a", "") +
			out("TestS/a", "=== RUN   TestS/a", "    s_test.go:9: no browser", "--- SKIP: TestS/a (0.00s)") + ev("skip", "TestS/a", "") +
			ev("run", "TestS/b", "") + out("TestS/b", "=== RUN   TestS/b", "    s_test.go:10: b logs", "--- PASS: TestS/b (0.00s)") + ev("pass", "TestS/b", "") +
			out("TestS", "=== NAME  TestS", "    s_test.go:12: the rest needs NATS", "--- SKIP: TestS (0.00s)") + ev("skip", "TestS", "") +
			out("", "PASS", "ok  \tp\t0.01s") + ev("pass", "", ""),
		want: "ok  \tp\t0.01s\n\nskipped tests: 2\n  1 skipped: no browser\n      p TestS/a\n  1 skipped: the rest needs NATS\n      p TestS\n",
	}, {
		name: "a failing test shows its log, subtests included",
		in: ev("run", "TestF", "") + out("TestF", "=== RUN   TestF") + ev("run", "TestF/x", "") +
			out("TestF/x", "=== RUN   TestF/x", "    f_test.go:5: boom", "--- FAIL: TestF/x (0.00s)") + ev("fail", "TestF/x", "") +
			out("TestF", "--- FAIL: TestF (0.00s)") + ev("fail", "TestF", "") +
			ev("run", "TestOK", "") + out("TestOK", "=== RUN   TestOK", "--- PASS: TestOK (0.00s)") + ev("pass", "TestOK", "") +
			out("", "FAIL", "FAIL\tp\t0.01s") + ev("fail", "", ""),
		want: "=== RUN   TestF\n=== RUN   TestF/x\n    f_test.go:5: boom\n--- FAIL: TestF/x (0.00s)\n--- FAIL: TestF (0.00s)\n" +
			"FAIL\nFAIL\tp\t0.01s\n\nskipped tests: none\n",
		wantFailed: true,
	}, {
		name: "a test that never ends (a panic) shows its log before the package's FAIL",
		in: ev("run", "TestP", "") + out("TestP", "=== RUN   TestP", "panic: nil map", "goroutine 7 [running]:") +
			out("", "FAIL\tp\t0.01s") + ev("fail", "", ""),
		want:       "=== RUN   TestP\npanic: nil map\ngoroutine 7 [running]:\nFAIL\tp\t0.01s\n\nskipped tests: none\n",
		wantFailed: true,
	}, {
		name: "build errors and lines that are not events pass through",
		in: `{"ImportPath":"p [p.test]","Action":"build-output","Output":"# p\n"}` + "\n" +
			`{"ImportPath":"p [p.test]","Action":"build-output","Output":"./a.go:1:1: syntax error\n"}` + "\n" +
			`{"ImportPath":"p [p.test]","Action":"build-fail"}` + "\n" + "go: warning: something\n" +
			out("", "FAIL\tp [build failed]") + ev("fail", "", ""),
		want:       "# p\n./a.go:1:1: syntax error\ngo: warning: something\nFAIL\tp [build failed]\n\nskipped tests: none\n",
		wantFailed: true,
	}, {
		name: "a package without tests",
		in:   ev("start", "", "") + out("", "?   \tp\t[no test files]") + ev("skip", "", ""),
		want: "?   \tp\t[no test files]\n\nskipped tests: none\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			r := newReport(&got)
			if err := r.read(strings.NewReader(tt.in)); err != nil {
				t.Fatal(err)
			}
			r.writeSkips()
			if diff := cmp.Diff(tt.want, got.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if r.failed != tt.wantFailed {
				t.Errorf("failed %v, want %v", r.failed, tt.wantFailed)
			}
		})
	}
}

// run runs the real go test and exits with its status: 0 when the tests
// pass, skips and all, 1 when one fails, also in the first of two runs.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two test binaries")
	}
	tests := []struct {
		pkg      string
		wantCode int
		want     []string
	}{
		{"./testdata/passskip", 0, []string{"ok  \tgithub.com/fusionfleet/fusionfleet/scripts/gotest/testdata/passskip", "skipped tests: 1",
			"1 skipped: SERVICE TESTS NOT RUN: nothing at 127.0.0.1:1", "passskip TestNeedsAService"}},
		{"./testdata/fail", 1, []string{"fail_test.go:6: the expected failure", "--- FAIL: TestFails", "FAIL\tgithub.com/fusionfleet/fusionfleet/scripts/gotest/testdata/fail", "skipped tests: none"}},
		// Two runs: the failure of the first is the exit status, the
		// second runs all the same, and its skips are listed.
		{"./testdata/fail then -count=1 ./testdata/passskip", 1, []string{"--- FAIL: TestFails",
			"ok  \tgithub.com/fusionfleet/fusionfleet/scripts/gotest/testdata/passskip", "skipped tests: 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"-count=1"}, strings.Fields(tt.pkg)...), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
