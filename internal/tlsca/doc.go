// Package tlsca is a small certificate authority for a cloud node that has no
// certificate from a public CA (a demo, a lab, an air-gapped plant): it
// creates a CA once, keeps it in a directory, and issues the node's server
// certificate from it. Gateways then trust that CA with --ca-file, so the
// cloud's identity is still verified by chain and host name (R-SEC-1).
//
// Production clouds use a certificate from the operator's PKI instead.
package tlsca
