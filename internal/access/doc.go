// Package access decides who may do what in the cloud (R-SEC-6, R-PEER-2).
//
// A Principal is the caller of one request, already authenticated: a user
// with a session, or an API token acting for its owner. It names the
// organisation whose data the request may touch, the effective role there,
// the sites it is limited to and, for tokens, the scope (read or
// read-write). A Requirement is what one route demands; Check is the one
// decision function that every route of the dashboard and the REST API
// passes through before its handler runs.
//
// Organisations are customers or service providers (OrgKind). A
// service-provider user acting on a customer's data does so under a Grant
// the customer gave (R-SEC-7): UnderGrant turns the user's own principal
// into one that acts in the customer's organisation with at most the
// granted role and sites, until the grant expires, and only on routes
// whose Requirement names a GrantScope the grant holds: a route that names
// none is closed to service providers.
//
// A service provider's users hold the same fleet.Role values as a
// customer's, in the provider's own organisation: its engineer is an
// operator (fleet.RoleOperator), its dispatcher, who plans visits and
// changes nothing, a viewer (fleet.RoleViewer), and whoever manages the
// provider's users an administrator. Every grant carries GrantRole
// (operator), so under a grant the engineer acts as an operator, the
// dispatcher as a viewer, and the provider's administrator no more than an
// operator: nobody under a grant administers the customer. An operator
// creates a provider organisation and its first administrator with
// "fusionfleet org create -kind service_provider"; the customer finds the
// provider by the organisation ID printed then (org_…), which the provider
// passes on, and grants to it.
//
// A customer's administrator gives a grant (NewGrant) on sites, for scopes
// and from when to when, and revokes it at once. Grants cover sites, not
// single printers: a printer moves with its site's data, and a role is
// held per site too. The dashboard and the REST API load the grant from
// the store on every request that names it, so revocation and expiry take
// effect on the next request on every cloud node.
//
// Members, Tokens and Sites are the store's capabilities for an
// organisation's people, API tokens and sites, declared here once for the
// dashboard and the REST API that both use them.
//
// Handlers scope every store call by Principal.Org and filter by
// Principal.Sites; the helpers here (FilterSites, FilterPrinters,
// CanAssign, CanManage) keep those rules in one place.
package access
