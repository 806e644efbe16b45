"""Knowledge learned from real, public failure reports: the corpus and its known-issue index."""
