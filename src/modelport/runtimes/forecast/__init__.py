"""Forecasts with statsforecast: a model chosen per series by cross-validation, registered
as data (no pickle), refitted and forecast with prediction intervals on demand."""

from modelport.runtimes.forecast.predict import forecast
from modelport.runtimes.forecast.train import ForecastTraining, train_forecast

__all__ = ["ForecastTraining", "forecast", "train_forecast"]
