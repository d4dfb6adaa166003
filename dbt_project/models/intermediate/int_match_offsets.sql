-- Ring distances 1 .. var match_candidate_pool: the places after an index patient that the first
-- matching stage checks.
{{ ring_offsets(match_pool_size()) }}
