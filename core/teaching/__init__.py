"""Lessons (the seed articles' worked examples as data) and predict-the-shape quizzes."""
