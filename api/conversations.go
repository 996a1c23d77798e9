package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// conversationRoutes registers the shopper's view of a conversation and
// feedback on its answers, under the same key and token rules as chat.
func (s *Server) conversationRoutes(r gin.IRouter) {
	r.GET("/v1/conversations/:id", s.requireRole(auth.RoleWidget), s.identifyShopper, s.getConversation)
	r.POST("/v1/conversations/:id/feedback", s.requireRole(auth.RoleWidget), s.identifyShopper, s.postFeedback)
}

// getConversation returns a conversation with its messages for the
// shopper who owns it: GET /v1/conversations/{id}. A conversation of
// another identity is not found, exactly like an unknown one.
func (s *Server) getConversation(c *gin.Context) {
	if s.convs == nil {
		writeError(c, kefu.Errorf(kefu.EUnavailable, "conversations are not configured on this server"))
		return
	}
	ctx := c.Request.Context()
	conv, err := s.ownConversation(c)
	if err != nil {
		writeError(c, err)
		return
	}
	msgs, err := s.convs.Messages(ctx, conv.ID, 0)
	if err != nil {
		writeError(c, fmt.Errorf("read messages: %w", err))
		return
	}
	rated := map[string]store.Feedback{}
	if s.feedback != nil {
		fbs, err := s.feedback.ConversationFeedback(ctx, conv.ID)
		if err != nil {
			writeError(c, fmt.Errorf("read feedback: %w", err))
			return
		}
		for _, f := range fbs {
			rated[f.MessageID] = f
		}
	}
	out := ConversationResponse{ID: conv.ID, Channel: conv.Channel, CreatedAt: conv.CreatedAt, UpdatedAt: conv.UpdatedAt,
		Messages: []ConversationMessage{}}
	for _, m := range msgs {
		if !visible(m) {
			continue
		}
		v := conversationMessage(m)
		v.Intent, v.Partial, v.PromptVersion = m.Intent, m.Partial, m.PromptVersion
		if f, ok := rated[m.ID]; ok {
			v.Feedback = feedbackView(f)
		}
		out.Messages = append(out.Messages, v)
	}
	c.JSON(http.StatusOK, out)
}

// ownConversation loads the conversation named in the path for the
// calling shopper, with chat's ownership rule.
func (s *Server) ownConversation(c *gin.Context) (store.Conversation, error) {
	ctx := c.Request.Context()
	return s.conversation(ctx, strings.TrimSpace(c.Param("id")), customerFrom(ctx))
}

// promptVersion is the version of the prompt templates behind an answer.
// The pipeline does not report it in its Meta yet, so it is the version of
// the templates built into this binary, which the pipeline uses.
func promptVersion(m rag.Meta) string { return m.PromptVersion }
