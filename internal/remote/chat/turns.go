package chat

import "github.com/kefuhq/kefu"

// Turn is one message of a rendered prompt in the roles chat APIs know:
// "system", "user" or "assistant".
type Turn struct {
	Role, Content string
}

// Turns is the rendered prompt as chat turns: the system prompt first,
// then the conversation (the question alone when there is none). A human
// agent's turns are the assistant side, as the shopper saw them.
func Turns(req kefu.GenerateRequest) []Turn {
	var out []Turn
	if req.System != "" {
		out = append(out, Turn{"system", req.System})
	}
	for _, m := range req.Messages {
		role := "user"
		switch m.Role {
		case kefu.RoleAssistant, kefu.RoleAgent:
			role = "assistant"
		case kefu.RoleSystem:
			role = "system"
		}
		out = append(out, Turn{role, m.Content})
	}
	if len(req.Messages) == 0 && req.Question != "" {
		out = append(out, Turn{"user", req.Question})
	}
	return out
}
