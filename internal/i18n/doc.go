// Package i18n translates the words of the dashboard and of the Command
// Center's local UI. English is the source language: a message's English
// text is its key, so English needs no catalog and a missing translation
// falls back to readable English. Other languages have catalogs embedded
// from <lang>/*.json, one flat object of English → translation per
// feature, merged at start.
package i18n
