"""Order venues: where approved orders go and what the venue itself says happened."""
