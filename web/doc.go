// Package web serves kefu's screens: the landing page (GET /), the
// shopper's chat page (GET /chat) with the embeddable widget loader
// (GET /kefu/widget.js), and their static assets. Everything is embedded
// with go:embed; running kefu needs no front-end build.
//
// Assets live under static/ as plain files (JavaScript modules, CSS) and
// are served at /kefu/v/VERSION/NAME, where VERSION is a hash of every
// embedded file, so they can be cached for a year; HTML pages are rendered
// from templates/ with that version and sent with no-cache and a strict
// Content-Security-Policy (scripts and styles from this origin only, no
// inline script or style). The loader keeps its stable name, with a short
// cache lifetime, because shops paste its URL into their pages.
package web
