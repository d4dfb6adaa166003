-- Ring distances 1 .. var match_candidate_limit, the positions matching may look at.
{{ ring_offsets(match_search_limit()) }}
