// Package fleet is FusionFleet's vocabulary: the printer data of the
// whitepaper's Appendix A (R-DATA-*), the records that cross the uplink, and
// the tenancy nouns of the cloud (organisations, sites, gateways, users).
//
// It depends on the standard library only, so every tier can share it.
// Types that only the printer and the local site may know (job names, part
// names, user names) are deliberately absent: they live in the device API's
// wire types and never reach a fleet.Record (R-PRIV-2).
package fleet
