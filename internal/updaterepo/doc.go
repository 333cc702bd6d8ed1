// Package updaterepo is the cloud's and the release tool's side of signed
// updates: a TUF repository (Repo) of firmware images and print-parameter
// sets, publishing from the offline release tool to the cloud, staged
// rollouts and their halts, and the cloud's /tuf/ service (Service), which
// serves the repository to Command Centers, accepts publishes and re-signs
// snapshot and timestamp on a schedule. Printers and Command Centers do
// not link it: they verify what it serves with package update.
//
// # Keys: which live where
//
//   - root (offline, threshold, default 2 of 3): signs the list of keys
//     and thresholds for every role. Kept off-line by the release
//     managers; used only to create the repository and to rotate keys.
//     Printers pin a root at manufacture and follow later ones only along
//     the chain of roots, each signed by a threshold of the previous root's
//     keys and of its own (Repo.RotateRoot).
//   - targets (offline, threshold configurable): signs the list of targets
//     with their lengths, hashes and custom release metadata (kind,
//     version, models, minimum version, notes, staged rollout). Adding a
//     release needs it, so a compromised cloud cannot publish firmware.
//   - snapshot and timestamp (online, held by the cloud): the snapshot
//     fixes which version of targets metadata belongs to the current
//     repository state; the timestamp, re-signed on a schedule with a short
//     expiry (Repo.Resign), says which snapshot is current. Stealing them lets
//     an attacker at most delay updates until the targets expire, not ship
//     code.
//
// Keys are ed25519, stored as PKCS#8 PEM files readable by the owner only,
// under keys/offline and keys/online in the repository directory, so that
// the cloud receives only the online directory.
//
// # Publishing and staged-rollout halts
//
// The release tool signs offline and uploads to the cloud (Repo.Publish,
// an archive written by WriteUpload and sent by a Publisher). The cloud holds only the online keys
// (Repo.ExportOnline) and accepts an upload only if it verifies against
// the root chain the cloud already trusts: each new root signed by a
// threshold of the previous root's keys and of its own, targets signed by
// a threshold of the targets keys, every target with its signed length and
// SHA-256, and no version going backwards. A refused upload changes
// nothing; an accepted one gets a new snapshot and timestamp signed by the
// cloud. The cloud also keeps rollout.json beside the repository: the
// targets whose staged rollout is halted, by an operator (Repo.Halt) or by
// the RolloutController when a target's printers raise failure alerts
// more often than printers of the same model on other versions. Command
// Centers hold halted targets back. Halting is an availability control,
// not a security control: the file is unsigned, and printers verify every
// target with TUF whatever it says.
package updaterepo
