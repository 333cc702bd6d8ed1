package update

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Why an update was refused. Each attack the client defends against ends
// in its own reason, so that logs, tests and the dashboard can tell them
// apart; the printer stays on its installed version in every case.
var (
	ErrTamperedTarget   = errors.New("target does not match its signed length and hashes")
	ErrTamperedMetadata = errors.New("metadata was altered after signing")
	ErrUnknownKey       = errors.New("metadata is signed by a key not trusted for its role")
	ErrThreshold        = errors.New("metadata has fewer valid signatures than its role's threshold")
	ErrRollback         = errors.New("metadata is older than the metadata already trusted")
	ErrExpired          = errors.New("metadata has expired: the mirror may be freezing updates")
	ErrMixAndMatch      = errors.New("metadata is authentic but not the version the snapshot names")
	ErrRootRotation     = errors.New("new root is not signed by the thresholds of both old and new root keys")
	ErrMalformed        = errors.New("mirror served bytes that are not valid metadata")
	ErrTooLarge         = errors.New("download exceeds its size limit")
	ErrUnavailable      = errors.New("mirror unavailable")
	ErrWrongModel       = errors.New("target is not for this printer model")
	ErrWrongKind        = errors.New("target is of another kind")
	ErrDowngrade        = errors.New("target version is not newer than the installed one")
	ErrMinVersion       = errors.New("installed version is below the target's minimum")
	ErrNotInRollout     = errors.New("printer is not yet in the target's staged rollout")
	ErrNoUpdate         = errors.New("no applicable update")
	ErrStartFailed      = errors.New("new version failed its start check and was rolled back")
)

// RefusalReasons lists every reason a RefusedError may carry.
var RefusalReasons = []error{
	ErrTamperedTarget, ErrTamperedMetadata, ErrUnknownKey, ErrThreshold, ErrRollback, ErrExpired,
	ErrMixAndMatch, ErrRootRotation, ErrMalformed, ErrTooLarge, ErrUnavailable, ErrWrongModel,
	ErrWrongKind, ErrDowngrade, ErrMinVersion, ErrNotInRollout, ErrNoUpdate, ErrStartFailed,
}

// RefusedError says why an update was refused and which file caused it.
// errors.Is matches both its Reason and the underlying TUF error.
type RefusedError struct {
	Reason error  // one of the Err sentinels above
	Role   string // the metadata role or "target"
	URL    string // the file the mirror served, if known
	Err    error  // the underlying error
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "update refused: %v", e.Reason)
	if e.Role != "" {
		fmt.Fprintf(&b, " (%s)", e.Role)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the reason and the underlying error.
func (e *RefusedError) Unwrap() []error { return []error{e.Reason, e.Err} }

// tooLargeError is the fetcher's error for a download cut off at its limit.
type tooLargeError struct {
	url      string
	limit    int64
	complete bool // the whole body was read: it is only a little too long
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("download %s: more than %d bytes", e.url, e.limit)
}

func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }

// roleOf returns the metadata role a download URL names ("3.targets.json",
// "timestamp.json"), or "".
func roleOf(url string) string {
	base := path.Base(url)
	base, ok := strings.CutSuffix(base, ".json")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		base = base[i+1:]
	}
	switch base {
	case metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS:
		return base
	}
	return ""
}

// classifyRefresh turns an error from the TUF metadata refresh into a
// RefusedError with a distinct reason. last is the file the mirror served
// most recently (the one that failed), root the root trusted at the time.
func classifyRefresh(err error, last download, root *metadata.Metadata[metadata.RootType]) error {
	role := roleOf(last.url)
	refused := func(reason error) error {
		return &RefusedError{Reason: reason, Role: role, URL: last.url, Err: err}
	}
	var (
		tooBig   *tooLargeError
		expired  *metadata.ErrExpiredMetadata
		badVer   *metadata.ErrBadVersionNumber
		unsigned *metadata.ErrUnsignedMetadata
		mismatch *metadata.ErrLengthOrHashMismatch
		dlLen    *metadata.ErrDownloadLengthMismatch
		dlHTTP   *metadata.ErrDownloadHTTP
	)
	switch {
	case errors.As(err, &tooBig) && tooBig.complete && parses(last.data, role):
		// Longer than the signed length, but whole metadata: an edited
		// file. Its signatures say what was done to it.
		return &RefusedError{Reason: DiagnoseSignatures(last.data, role, root), Role: role, URL: last.url,
			Err: fmt.Errorf("%d bytes, more than the signed length %d", len(last.data), tooBig.limit)}
	case errors.As(err, &tooBig), errors.As(err, &dlLen):
		return refused(ErrTooLarge)
	case errors.As(err, &dlHTTP), last.failed:
		return refused(ErrUnavailable)
	case errors.As(err, &expired):
		return refused(ErrExpired)
	case errors.As(err, &badVer):
		switch role {
		case metadata.TARGETS:
			return refused(ErrMixAndMatch)
		case metadata.ROOT:
			return refused(ErrRootRotation)
		}
		return refused(ErrRollback)
	case errors.As(err, &unsigned), errors.As(err, &mismatch):
		return refused(DiagnoseSignatures(last.data, role, root))
	}
	// Anything else (undecodable bytes, the wrong type of metadata where
	// another was asked for) means the mirror serves what it should not.
	return refused(ErrMalformed)
}

// DiagnoseSignatures looks at the signatures of a metadata file the client
// refused, to say why: a trusted key whose signature no longer verifies
// means the content was altered; a valid threshold means the file is
// authentic but was not the one named (mix-and-match); otherwise it is
// signed by untrusted keys or too few trusted ones.
func DiagnoseSignatures(data []byte, role string, root *metadata.Metadata[metadata.RootType]) error {
	if role == "" || !parses(data, role) {
		return ErrMalformed
	}
	if role == metadata.ROOT {
		return ErrRootRotation
	}
	rl := root.Signed.Roles[role]
	if rl == nil {
		return ErrMalformed
	}
	sigs := signaturesOf(data, role)
	var valid, invalid, untrusted int
	for _, s := range sigs {
		key, trusted := root.Signed.Keys[s.KeyID]
		if !trusted || !slices.Contains(rl.KeyIDs, s.KeyID) {
			untrusted++
			continue
		}
		if verifiesAlone(data, role, s.KeyID, key) {
			valid++
		} else {
			invalid++
		}
	}
	switch {
	case invalid > 0:
		return ErrTamperedMetadata
	case valid >= rl.Threshold:
		return ErrMixAndMatch
	case untrusted > 0:
		return ErrUnknownKey
	}
	return ErrThreshold
}

// parses reports whether data decodes as metadata of role.
func parses(data []byte, role string) bool {
	var err error
	switch role {
	case metadata.ROOT:
		_, err = metadata.Root().FromBytes(data)
	case metadata.TIMESTAMP:
		_, err = metadata.Timestamp().FromBytes(data)
	case metadata.SNAPSHOT:
		_, err = metadata.Snapshot().FromBytes(data)
	case metadata.TARGETS:
		_, err = metadata.Targets().FromBytes(data)
	default:
		return false
	}
	return err == nil
}

func signaturesOf(data []byte, role string) []metadata.Signature {
	switch role {
	case metadata.TIMESTAMP:
		if m, err := metadata.Timestamp().FromBytes(data); err == nil {
			return m.Signatures
		}
	case metadata.SNAPSHOT:
		if m, err := metadata.Snapshot().FromBytes(data); err == nil {
			return m.Signatures
		}
	case metadata.TARGETS:
		if m, err := metadata.Targets().FromBytes(data); err == nil {
			return m.Signatures
		}
	}
	return nil
}

// verifiesAlone checks one key's signature on data with go-tuf's own
// verification, by asking whether a root trusting only that key, with
// threshold one, would accept the file.
func verifiesAlone(data []byte, role, keyID string, key *metadata.Key) bool {
	one := metadata.Root()
	one.Signed.Keys = map[string]*metadata.Key{keyID: key}
	one.Signed.Roles[role] = &metadata.Role{KeyIDs: []string{keyID}, Threshold: 1}
	var err error
	switch role {
	case metadata.TIMESTAMP:
		m, perr := metadata.Timestamp().FromBytes(data)
		if perr != nil {
			return false
		}
		err = one.VerifyDelegate(role, m)
	case metadata.SNAPSHOT:
		m, perr := metadata.Snapshot().FromBytes(data)
		if perr != nil {
			return false
		}
		err = one.VerifyDelegate(role, m)
	case metadata.TARGETS:
		m, perr := metadata.Targets().FromBytes(data)
		if perr != nil {
			return false
		}
		err = one.VerifyDelegate(role, m)
	default:
		return false
	}
	return err == nil
}

// classifyTarget turns an error from downloading a target into a
// RefusedError.
func classifyTarget(err error, name, url string) error {
	refused := func(reason error) error {
		return &RefusedError{Reason: reason, Role: "target " + name, URL: url, Err: err}
	}
	var (
		tooBig   *tooLargeError
		dlLen    *metadata.ErrDownloadLengthMismatch
		mismatch *metadata.ErrLengthOrHashMismatch
	)
	switch {
	case errors.As(err, &tooBig), errors.As(err, &dlLen):
		return refused(ErrTooLarge)
	case errors.As(err, &mismatch):
		return refused(ErrTamperedTarget)
	}
	return refused(ErrUnavailable)
}
