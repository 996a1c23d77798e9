// Package deploy checks the deployment files at the repository root
// (docker-compose.yml, Dockerfile) offline: no Docker engine is needed, the
// compose file is parsed and interpolated by compose-go as docker compose
// would.
package deploy
