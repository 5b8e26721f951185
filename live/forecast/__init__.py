"""The forecast: win probabilities, the model and its fit, results files, pre-race planning."""
