/**
 * Forecasting settings shared by the stock scripts (lua/includes/forecast.lua, which holds the
 * rules) and the reference model (model.ts, which restates them independently).
 *
 * - Velocity: units reserved and units sold per hour, exponentially weighted in event time with
 *   a half-life; a steady seller's figure converges on its true rate within a few half-lives.
 * - Predicted stock-out: cover = available / velocity (the faster of the two rates). When the
 *   cover falls below the SKU's lead time plus the margin, one STOCKOUT_PREDICTED alert with
 *   the predicted time and the velocity behind it; STOCKOUT_CLEARED once a receipt or a
 *   slowdown lifts the cover to 1.1x that horizon. A SKU without sales raises none.
 * - Replenishment: reorder point = velocity x lead time + safety stock; quantity = the economic
 *   order quantity sqrt(2 C_o D / H) with D the daily demand from the velocity; published on
 *   `replenishment` when the SKU crosses its reorder point, or when either figure moved by more
 *   than a tenth and the last suggestion is resuggestAfterSeconds old (a velocity building up
 *   moves them at nearly every sale: not a suggestion per event).
 */
export interface ForecastSettings {
  /** half-life of the velocities, seconds of event time */
  halfLifeSeconds: number;
  /** warn this many hours before the lead time runs out */
  marginHours: number;
  /** a moved suggestion is published again no sooner than this after the last (event time) */
  resuggestAfterSeconds: number;
}

export const DEFAULT_FORECAST: ForecastSettings = {
  halfLifeSeconds: 24 * 3600,
  marginHours: 24,
  resuggestAfterSeconds: 3600,
};

/** Velocities are stored in thousandths of a unit per hour. */
export const VELOCITY_UNIT = 1000;

/** The script argument's `fx`. */
export function forecastArgument(f: ForecastSettings): { h: number; m: number; r: number } {
  return { h: f.halfLifeSeconds, m: f.marginHours, r: f.resuggestAfterSeconds };
}
