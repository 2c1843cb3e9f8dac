package api

import (
	"encoding/csv"
	"io"

	"github.com/commonroot/commonroot/registry"
)

// WriteRestrictionsCSV writes list as GET /v1/restrictions?format=csv
// does: the CSVHeader row, then one row per restriction.
func WriteRestrictionsCSV(w io.Writer, list []registry.Restriction) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	for _, rs := range list {
		cw.Write(csvRow(rs))
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes v as every JSON answer of the API is encoded: without
// HTML escaping, newline-terminated.
func WriteJSON(w io.Writer, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
