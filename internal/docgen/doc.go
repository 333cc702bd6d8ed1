// Package docgen writes the parts of the documentation that the code
// already knows, so that they cannot drift from it: the API references
// from the OpenAPI documents of the device API, the local API and the
// cloud's REST API; the list of data that is and is not collected from the
// privacy allow-list (package privacy); and the troubleshooting page from
// the self-test's table of checks (package commandcenter).
//
// Files returns every page; the package's test compares them with the
// committed docs and, run with -update, rewrites them.
package docgen
