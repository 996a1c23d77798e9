package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
)

// codeMethodNotAllowed is the one error code of the API's own: kefu's codes
// describe application failures, and a wrong method is only HTTP's.
const codeMethodNotAllowed = "method_not_allowed"

// statusClientClosed is recorded when the client went away before the
// reply (nginx's convention); the client never sees it.
const statusClientClosed = 499

// errorStatus maps an error code to its HTTP status; unknown codes are 500.
func errorStatus(code string) int {
	switch code {
	case kefu.EInvalid:
		return http.StatusBadRequest
	case kefu.EUnauthorized:
		return http.StatusUnauthorized
	case kefu.EForbidden:
		return http.StatusForbidden
	case kefu.ENotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case kefu.EConflict:
		return http.StatusConflict
	case kefu.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case kefu.EUnavailable:
		return http.StatusServiceUnavailable
	case codeRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// errorBody is what a client may see of err: its code and client-safe
// message for a *kefu.Error with a known code, and "internal error" for
// anything else. A deadline is reported as unavailable.
func errorBody(err error) ErrorBody {
	if errors.Is(err, context.DeadlineExceeded) && kefu.ErrorCode(err) == kefu.EInternal {
		return ErrorBody{Code: kefu.EUnavailable, Message: "the request timed out"}
	}
	code := kefu.ErrorCode(err)
	if code != kefu.EInternal && errorStatus(code) == http.StatusInternalServerError {
		return ErrorBody{Code: kefu.EInternal, Message: "internal error"}
	}
	return ErrorBody{Code: code, Message: kefu.ErrorMessage(err)}
}

// writeError records err for the request log and replies with its status
// and body, unless the reply has already begun (a stream), in which case it
// only stops the chain. An error caused by the client going away is
// recorded with status 499 and nothing is written.
func writeError(c *gin.Context, err error) {
	_ = c.Error(err)
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.AbortWithStatus(statusClientClosed)
		return
	}
	if c.Writer.Written() {
		c.Abort()
		return
	}
	body := errorBody(err)
	c.AbortWithStatusJSON(errorStatus(body.Code), ErrorResponse{Error: body})
}

// clip shortens a client-supplied value before it is echoed in an error
// message, so a message stays short whatever the client sent.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	// Never inside a phone or card number, which the log's redaction
	// would then miss.
	short := strings.TrimSuffix(guard.Shorten(s, utf8.RuneCountInString(s[:cut])), "…")
	for len(short) > max {
		_, size := utf8.DecodeLastRuneInString(short)
		short = short[:len(short)-size]
	}
	return short + "..."
}
