package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Post sends v as JSON to url, with header, asking for server-sent events,
// and returns the reply when its status is 2xx; the caller closes its
// body. Otherwise the error is what the reply said: its error message, or
// the start of its body (the status itself is in the call's
// remote.Call, through the client's transport).
func Post(ctx context.Context, client *http.Client, url string, header http.Header, v any) (*http.Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, errors.New(errorText(resp.Body))
	}
	return resp, nil
}

// errorText is what a failed reply says: the message of its error object
// (OpenAI's and Anthropic's shapes alike), or the start of its body.
func errorText(body io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(body, 4<<10))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(raw))
}
