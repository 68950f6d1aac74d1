"""Silver -> gold: the customer-360, point-in-time training sets, scores, offers and KPIs."""
