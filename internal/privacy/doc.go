// Package privacy is the uplink allow-list (R-PRIV-1..3): every record that
// leaves a site is built here from the device API's wire types.
//
// Each function copies, field by field, only what the requirements name
// (R-DATA-*). A field added to a device wire type later therefore leaves
// nothing until someone adds it here on purpose; the package's tests fail
// until the new field is classified as allowed or private. Job names, user
// names and computer names (R-PRIV-2) are never copied.
package privacy
