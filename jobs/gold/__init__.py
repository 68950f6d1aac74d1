"""Silver -> gold: the customer-360 and the point-in-time training sets (scores, offers and KPIs are written
to gold by jobs.models, jobs.decide and jobs.measure)."""
