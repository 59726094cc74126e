"""The expression language (parse, ops, bind/predict/run), the layer steps and whole-chain prediction."""
