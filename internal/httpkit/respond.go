package httpkit

import (
	"encoding/json"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// JSON encodes v with status.
func JSON(status int, v any) handler.Response {
	body, err := json.Marshal(v)
	if err != nil {
		return ErrorResponse(http.StatusInternalServerError, "encode response: "+err.Error())
	}
	return Raw(status, "application/json", append(body, '\n'))
}

// Raw returns body with the given content type.
func Raw(status int, contentType string, body []byte) handler.Response {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	return handler.Response{StatusCode: status, Header: h, Body: body}
}

// ErrorResponse is the uniform error body {"error": msg}. Functions return
// errors and let FromError pick the status; this is for the kit and for
// bodies that are not an error's text.
func ErrorResponse(status int, msg string) handler.Response {
	return JSON(status, map[string]string{"error": msg})
}
