// Package rules holds a shop's after-sales rules as data and decides, from an
// order's facts, whether an action (cancel, modify, return, exchange, refund,
// price protection) is allowed, and why.
//
// A rules file is YAML the shop writes (see Parse for its shape). It holds
// effective-dated versions: a version is in force from its date until the
// next version's date, and the version in force on the day the order was
// placed decides that order (an order placed before the first version is
// judged by the first; an order whose placed date is unknown by the version
// in force at the time of the check). Within a version each action has one
// rule: the order statuses it is allowed in, a window counted in days (or
// months) from a named date of the order (placed, delivered, …), excluded
// item categories, conditions the shopper must meet (stated to the shopper,
// never verified: "unopened", "hygiene seal intact"), a limit (once per
// order, judged from the actions already done when the facts carry them) and
// where a refund goes.
//
// The decision is computed by small pure functions (Book.Check) from Facts,
// which FactsFromRecord reads from the shop's own order records through a
// mapping of field names the rules file may override. The decision carries
// its reason in English and Chinese, composed from the facts, the rule and
// the bilingual phrases in this package and the rules file.
package rules
