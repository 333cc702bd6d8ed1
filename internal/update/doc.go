// Package update is what the site links of signed updates, through The
// Update Framework (TUF) and go-tuf's reference client: the release
// metadata every target carries (Release, Offer), a Command Center's
// mirror of the cloud's repository (Mirror, NewHandler), and the printer's
// verifying client (Client), which checks everything itself before
// installing into an A/B slot pair and telling the device (Agent). The
// repository, publishing and the cloud's /tuf/ service are the cloud's
// and live in package updaterepo, which the site does not link.
//
// # What each check defends against
//
// Each refusal carries a RefusedError whose Reason is one sentinel, and the
// printer stays on its installed slot:
//
//   - ErrTamperedTarget: the image differs from the signed length and
//     sha256 (a corrupted or malicious image).
//   - ErrTamperedMetadata: a trusted key's signature no longer verifies
//     (metadata edited in transit or on the mirror).
//   - ErrUnknownKey: signed by a key the root does not trust for the role
//     (an attacker's own key).
//   - ErrThreshold: fewer valid signatures than the role's threshold (one
//     stolen key of several).
//   - ErrRollback: a timestamp or snapshot older than the one already
//     trusted (replay of an old, vulnerable release). The trusted metadata
//     is persisted in the state directory, so this holds across restarts;
//     in addition the installed version is a floor (ErrDowngrade).
//   - ErrExpired: metadata past its expiry by the injected clock (a mirror
//     freezing the printer on stale metadata).
//   - ErrMixAndMatch: authentic metadata that is not the version and hash
//     the snapshot or timestamp names (parts of two repository states).
//   - ErrRootRotation: a new root without the signatures of both the old
//     and the new root keys.
//   - ErrMalformed: bytes that are not metadata at all (a compromised
//     mirror serving anything).
//   - ErrTooLarge: a download beyond its limit (the signed length for
//     targets, a fixed cap for metadata): a mirror streaming forever is cut
//     off, and each file has a deadline.
//   - ErrWrongModel, ErrMinVersion, ErrNotInRollout, ErrDowngrade: the
//     release is authentic but not for this printer (another model, too
//     old a base, not yet in the staged rollout, not newer).
//   - ErrStartFailed: the new release failed its start check; the client
//     switched back to the previous slot and will not retry that target.
//
// # A/B slots
//
// Slots per kind live in the state directory. An update downloads and
// verifies into the inactive slot, switches to it on trial, runs the start
// check, and commits. A trial still open at the next start (the printer
// died during the check) is rolled back, as a boot loader would.
//
// # Update bundles
//
// An air-gapped site gets its updates as a zip of a mirror of the
// repository (WriteBundle); ImportBundle verifies it with TUF against a
// root the site trusts before mirroring it (bundle.go).
package update
