// Package fleetquery holds the shapes in which the cloud's stores answer
// the dashboard and API beyond the plain fleet vocabulary: filters such as
// JobFilter and read models such as PrinterDetail. The SQLite and PostgreSQL
// stores return exactly these types, so their callers do not care which
// store is configured. PrinterReader, JobReader and HistoryReader are the
// store's fleet reads as the dashboard and the REST API use them.
package fleetquery
