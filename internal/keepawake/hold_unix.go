//go:build unix

package keepawake

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// hold runs the inhibiting command until ctx is done, calling held once
// the lock is taken.
func hold(ctx context.Context, opts Options, held func()) error {
	args := opts.Command
	if args == nil {
		args = []string{"systemd-inhibit", "--what=sleep:idle", "--who=FusionFleet Command Center",
			"--why=" + opts.Why, "--mode=block", "cat"}
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fmt.Errorf("keep-awake: %w", err)
	}
	cmd := exec.Command(path, args[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("keep-awake: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("keep-awake: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("keep-awake: %w", err)
	}
	exited := make(chan error, 1)
	go func() {
		// The echo: one line back means the lock is held.
		line, _ := bufio.NewReader(io.LimitReader(stdout, 64)).ReadString('\n')
		if line == "held\n" {
			held()
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	if _, err := io.WriteString(stdin, "held\n"); err != nil {
		// The command ended before reading: its error says why.
		stdin.Close()
		return why(<-exited, &stderr)
	}
	select {
	case err := <-exited:
		stdin.Close()
		return why(err, &stderr)
	case <-ctx.Done():
		// Closing the pipe ends cat, then systemd-inhibit, which drops the
		// lock; kill them if they linger.
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return nil
	}
}

// why is the error of an inhibiting command that ended.
func why(err error, stderr *bytes.Buffer) error {
	msg := strings.TrimSpace(stderr.String())
	if msg == "" && err == nil {
		return errors.New("keep-awake: the inhibitor ended")
	}
	if msg == "" {
		return fmt.Errorf("keep-awake: %w", err)
	}
	return fmt.Errorf("keep-awake: %s", msg)
}

// limitedWriter keeps the first n bytes.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p[:min(len(p), l.n)]
		l.n -= len(q)
		l.w.Write(q)
	}
	return len(p), nil
}
