package api

import (
	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu/web"
)

// webRoutes serves the screens (package web) at their paths: the pages
// in web.Pages, the widget loader and the versioned assets. Without a
// Deps.Web the pages show no shop name.
func (s *Server) webRoutes(r gin.IRouter) {
	site := s.web
	if site == nil {
		var err error
		if site, err = web.New(web.Config{}); err != nil {
			s.log.Error("the web screens are unavailable", "error", err.Error())
			return
		}
	}
	h := gin.WrapH(site)
	for _, p := range web.Pages {
		r.GET(p.Path, h)
		r.HEAD(p.Path, h)
	}
	r.GET(web.LoaderPath, h)
	r.HEAD(web.LoaderPath, h)
	r.GET(web.AssetPrefix+"*file", h)
	r.HEAD(web.AssetPrefix+"*file", h)
}
