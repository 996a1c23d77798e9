package deploy

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "../docker-compose.yml"

// testSecrets are the values the test puts in the environment; the loaded
// project must carry exactly these, proving that they come from the
// environment and not from the file.
var testSecrets = map[string]string{
	"KEFU_TOKEN_SECRET":      "token-secret-from-the-environment",
	"KEFU_QDRANT_API_KEY":    "qdrant-key-from-the-environment",
	"KEFU_POSTGRES_PASSWORD": "postgres-password-from-the-environment",
	"KEFU_API_KEYS":          "web:widget:sha256:from-the-environment",
	"KEFU_ENCRYPTION_KEY":    "encryption-key-from-the-environment",
}

// replicas are the kefu services behind the proxy.
var replicas = []string{"kefu-1", "kefu-2"}

func load(t *testing.T, env map[string]string, interpolate bool) (*types.Project, error) {
	t.Helper()
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory(".."),
		cli.WithEnv(kv),
		cli.WithInterpolation(interpolate),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %s is missing; services: %v", name, p.ServiceNames())
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func TestComposeServices(t *testing.T) {
	p, err := load(t, testSecrets, true)
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}

	for _, name := range replicas {
		kefu := service(t, p, name)
		if kefu.Build == nil || !strings.HasSuffix(kefu.Build.Dockerfile, "Dockerfile") {
			t.Errorf("%s is not built from the repository's Dockerfile: %+v", name, kefu.Build)
		}
		if !slices.Equal(kefu.Command, types.ShellCommand{"serve"}) {
			t.Errorf("%s command %v, want serve", name, kefu.Command)
		}
		for k, want := range map[string]string{
			"KEFU_VECTORDB": "qdrant", "KEFU_QDRANT_ADDR": "qdrant:6334", "KEFU_STORE_PROVIDER": "postgres",
			"KEFU_POSTGRES_DSN": "postgres://kefu:" + testSecrets["KEFU_POSTGRES_PASSWORD"] + "@postgres:5432/kefu?sslmode=disable",
		} {
			if got := env(kefu, k); got != want {
				t.Errorf("%s %s = %q, want %q", name, k, got, want)
			}
		}
		for _, dep := range []string{"qdrant", "postgres"} {
			if d, ok := kefu.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s does not wait for a healthy %s: %+v", name, dep, kefu.DependsOn)
			}
		}
		if len(kefu.Ports) != 0 {
			t.Errorf("%s publishes ports %+v; only the proxy should", name, kefu.Ports)
		}
	}
	// The replicas are one service: the same keys, store and secrets.
	for _, k := range []string{"KEFU_ENCRYPTION_KEY", "KEFU_TOKEN_SECRET", "KEFU_POSTGRES_DSN", "KEFU_API_KEYS", "KEFU_QDRANT_COLLECTION"} {
		if a, b := env(service(t, p, "kefu-1"), k), env(service(t, p, "kefu-2"), k); a != b || a == "" {
			t.Errorf("the replicas' %s differ or are empty: %q, %q", k, a, b)
		}
	}
	proxy := service(t, p, "proxy")
	if !exposes(proxy, 8080) {
		t.Errorf("the proxy does not publish 8080: %+v", proxy.Ports)
	}
	conf, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(slices.Clone(replicas), "proxy_buffering off", "proxy_next_upstream error", "X-Request-ID") {
		if !strings.Contains(string(conf), want) {
			t.Errorf("deploy/nginx.conf lacks %q", want)
		}
	}
	mounted := false
	for _, v := range proxy.Volumes {
		mounted = mounted || (strings.HasSuffix(v.Source, "deploy/nginx.conf") && v.Target == "/etc/nginx/nginx.conf")
	}
	if !mounted {
		t.Errorf("the proxy does not mount deploy/nginx.conf: %+v", proxy.Volumes)
	}
	trusted := env(service(t, p, "kefu-1"), "KEFU_TRUSTED_PROXIES")
	if ip := proxy.Networks["kefu"]; ip == nil || ip.Ipv4Address == "" || ip.Ipv4Address != trusted {
		t.Errorf("the replicas trust %q as their proxy, but the proxy's address is %+v", trusted, proxy.Networks["kefu"])
	}

	qdrant := service(t, p, "qdrant")
	if !strings.HasPrefix(qdrant.Image, "qdrant/qdrant:v") {
		t.Errorf("qdrant image %q is not a pinned qdrant/qdrant version", qdrant.Image)
	}
	if !exposes(qdrant, 6334) {
		t.Errorf("qdrant does not publish its gRPC port 6334: %+v", qdrant.Ports)
	}
	postgres := service(t, p, "postgres")
	if !strings.HasPrefix(postgres.Image, "postgres:16") {
		t.Errorf("postgres image %q, want postgres:16", postgres.Image)
	}

	for _, tc := range []struct {
		svc    types.ServiceConfig
		target string
		check  string // a word the health check must use
	}{
		{qdrant, "/qdrant/storage", "/readyz"},
		{postgres, "/var/lib/postgresql/data", "pg_isready"},
		{service(t, p, "kefu-1"), "/data", ""},
		{service(t, p, "kefu-2"), "/data", ""},
	} {
		name := tc.svc.Name
		if tc.check != "" {
			if tc.svc.HealthCheck == nil || tc.svc.HealthCheck.Disable || len(tc.svc.HealthCheck.Test) == 0 {
				t.Errorf("%s has no health check", name)
			} else if !strings.Contains(strings.Join(tc.svc.HealthCheck.Test, " "), tc.check) {
				t.Errorf("%s health check %v does not use %s", name, tc.svc.HealthCheck.Test, tc.check)
			}
		}
		if !hasNamedVolume(p, tc.svc, tc.target) {
			t.Errorf("%s keeps %s on no declared named volume: %+v", name, tc.target, tc.svc.Volumes)
		}
	}
}

func exposes(s types.ServiceConfig, port uint32) bool {
	for _, p := range s.Ports {
		if p.Target == port {
			return true
		}
	}
	return false
}

func hasNamedVolume(p *types.Project, s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Target != target || v.Type != types.VolumeTypeVolume {
			continue
		}
		if _, declared := p.Volumes[v.Source]; declared {
			return true
		}
	}
	return false
}

// Secrets come from the environment: compose refuses to start without them,
// the loaded values are the environment's, and the file holds no literal.
func TestComposeSecretsComeFromTheEnvironment(t *testing.T) {
	p, err := load(t, testSecrets, true)
	if err != nil {
		t.Fatal(err)
	}
	for svc, keys := range map[string][]string{
		"kefu-1":   {"KEFU_TOKEN_SECRET", "KEFU_QDRANT_API_KEY", "KEFU_API_KEYS", "KEFU_ENCRYPTION_KEY"},
		"kefu-2":   {"KEFU_TOKEN_SECRET", "KEFU_QDRANT_API_KEY", "KEFU_API_KEYS", "KEFU_ENCRYPTION_KEY"},
		"qdrant":   {"QDRANT__SERVICE__API_KEY"},
		"postgres": {"POSTGRES_PASSWORD"},
	} {
		s := service(t, p, svc)
		for _, k := range keys {
			got := env(s, k)
			found := false
			for _, v := range testSecrets {
				found = found || got == v
			}
			if !found {
				t.Errorf("%s %s = %q, not a value from the environment", svc, k, got)
			}
		}
	}
	if env(service(t, p, "kefu-1"), "KEFU_QDRANT_API_KEY") != env(service(t, p, "qdrant"), "QDRANT__SERVICE__API_KEY") {
		t.Error("kefu and qdrant are given different API keys")
	}

	for missing := range testSecrets {
		partial := map[string]string{}
		for k, v := range testSecrets {
			if k != missing {
				partial[k] = v
			}
		}
		if _, err := load(t, partial, true); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s the project loads (%v); it must refuse", missing, err)
		}
	}

	raw, err := load(t, nil, false)
	if err != nil {
		t.Fatalf("load without interpolation: %v", err)
	}
	secretName := regexp.MustCompile(`(?i)secret|password|api_key|token|passwd`)
	reference := regexp.MustCompile(`^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$`)
	for _, s := range raw.Services {
		for k, v := range s.Environment {
			if !secretName.MatchString(k) || v == nil {
				continue
			}
			if !reference.MatchString(*v) {
				t.Errorf("%s %s is the literal %q; take it from the environment (${%s:?set it})", s.Name, k, *v, k)
			}
		}
	}
	file, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range testSecrets {
		if strings.Contains(string(file), v) {
			t.Errorf("the compose file contains the secret value %q", v)
		}
	}
}

// Every KEFU_* variable the compose file sets is one kefu reads (the README
// documents every one), so a typo cannot silently fall back to a default.
func TestComposeUsesKnownSettings(t *testing.T) {
	p, err := load(t, testSecrets, true)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range replicas {
		for k := range service(t, p, name).Environment {
			if strings.HasPrefix(k, "KEFU_") && !strings.Contains(string(readme), "`"+k+"`") {
				t.Errorf("%s's environment sets %s, which the README does not document", name, k)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "FROM "); ok {
			froms = append(froms, f)
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:1.26") ||
		!(strings.Contains(froms[1], "distroless") || strings.Contains(froms[1], "debian")) {
		t.Errorf("want a two-stage build from golang:1.26 to a distroless or slim image, got FROM %v", froms)
	}
	for _, want := range []string{"./cmd/kefu", "CGO_ENABLED=0", `ENTRYPOINT ["/usr/local/bin/kefu"]`, `CMD ["serve"]`, "USER nonroot"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

// The compose default is never open: kefu listens on all interfaces of its
// container, so it must start with API keys, and compose refuses to start
// without them (checked above, with the other secrets). An empty default
// (${KEFU_API_KEYS:-}) would start an open server.
func TestComposeKefuIsNeverOpen(t *testing.T) {
	raw, err := load(t, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range replicas {
		ref := env(service(t, raw, name), "KEFU_API_KEYS")
		if !strings.HasPrefix(ref, "${KEFU_API_KEYS:?") {
			t.Errorf("%s KEFU_API_KEYS = %q; it must be required (${KEFU_API_KEYS:?...}), so compose never starts an open server", name, ref)
		}
	}
	p, err := load(t, testSecrets, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range replicas {
		if got := env(service(t, p, name), "KEFU_API_KEYS"); got == "" {
			t.Errorf("%s starts without API keys", name)
		}
	}
}
