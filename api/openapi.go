package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 description of the API, served at
// /openapi.json. openapi_test.go walks every path it documents against a
// running node and checks the answers against its schemas.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *server) openapi(w http.ResponseWriter, r *http.Request, _ []string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeBody(w, http.StatusOK, "application/json", OpenAPI)
}
