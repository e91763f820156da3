// The fault and abuse suite (issue 8) lives in this target; see RELIABILITY.md.
