package main

import "github.com/kefuhq/kefu/api"

// libraryOf is the chunk store as the dashboard's document library reads
// it, nil when the store cannot list a document's chunks.
func libraryOf(s chunkStore) api.Library {
	if l, ok := s.(api.Library); ok {
		return l
	}
	return nil
}
