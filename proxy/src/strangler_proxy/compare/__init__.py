"""Is the service answering like the monolith? Compare mirrored answers off the hot path, learn noise, gate a
route, store mismatches, capture and replay corpora. Reads the data plane; never imports the control plane or CLI."""
