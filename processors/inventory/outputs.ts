import type { OutputMessage } from '../../runtime/processor-runner.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type {
  Alert,
  AlertSeverity,
  ReplenishmentSuggestion,
  ReservationResult,
  StockLevel,
} from '../../schemas/types.js';
import type { HeldUnits, ScriptOutput } from './script-results.js';
import { DEFAULT_WAREHOUSES, warehouseStock } from './warehouses.js';
import type { ClaimedLevel, PendingCatalogueAlert } from './store.js';

export interface OutputTopics {
  reservationResults: string;
  stockLevels: string;
  alerts: string;
  replenishment: string;
}

interface WriterIds {
  results: number;
  levels: number;
  alerts: number;
  replenishment: number;
}

const SEVERITY: Record<string, AlertSeverity> = {
  SHORTAGE: 'CRITICAL',
  OUT_OF_STOCK: 'CRITICAL',
  LOW_STOCK: 'WARNING',
  BACK_IN_STOCK: 'INFO',
  STOCKOUT_PREDICTED: 'WARNING',
  STOCKOUT_CLEARED: 'INFO',
};

const hours = (h: number) => (h >= 48 ? `${(h / 24).toFixed(1)} days` : `${h.toFixed(1)} h`);

interface ForecastFigures {
  at?: number | undefined;
  vel?: number | undefined;
  lt?: number | undefined;
}

function forecastMessage(
  kind: string,
  sku: string,
  available: number,
  f: ForecastFigures | undefined,
): string {
  const vel = f?.vel ?? 0;
  if (kind === 'STOCKOUT_CLEARED') {
    return vel > 0
      ? `${sku}: ${available} available cover ${hours(available / vel)} at ${vel.toFixed(2)}/h, past the lead time of ${f?.lt ?? 0} h`
      : `${sku}: no sales any more, ${available} available`;
  }
  return (
    `${sku}: predicted out of stock in ${hours(available / vel)} (${new Date(f?.at ?? 0).toISOString()}), ` +
    `${available} available at ${vel.toFixed(2)}/h, within the lead time of ${f?.lt ?? 0} h`
  );
}

function alertMessage(
  kind: string,
  sku: string,
  available: number,
  threshold: number,
  forecast?: ForecastFigures,
): string {
  switch (kind) {
    case 'SHORTAGE':
      return `${sku}: ${-available} units short — holds exceed what is on hand`;
    case 'OUT_OF_STOCK':
      return `${sku}: out of stock`;
    case 'LOW_STOCK':
      return `${sku}: ${available} available, at or below the threshold of ${threshold}`;
    case 'STOCKOUT_PREDICTED':
    case 'STOCKOUT_CLEARED':
      return forecastMessage(kind, sku, available, forecast);
    default:
      return `${sku}: back in stock, ${available} available`;
  }
}

const REASON_TEXT: Record<string, string> = {
  SHIPPED_WITHOUT_HOLD: 'shipped although nothing was held for it: deducted from on hand',
  RESTOCKED: 'cancelled after payment, before shipment: the units are back on hand',
};

export interface OutputSource {
  eventId: string;
  topic: string;
  partition: number;
  offset: number;
}

/**
 * Turns script outputs into Avro records with deterministic ids: the same applied event always
 * yields the same resultId / alertId, so a re-publication after a crash can be de-duplicated.
 */
export class InventoryOutputs {
  private ids: WriterIds | null = null;

  constructor(
    private readonly codec: AvroCodec,
    private readonly topics: OutputTopics,
    private readonly defaultWarehouse = DEFAULT_WAREHOUSES.defaultWarehouse,
  ) {}

  async init(): Promise<void> {
    this.ids = {
      results: await this.codec.writerId('reservation-results'),
      levels: await this.codec.writerId('stock-levels'),
      alerts: await this.codec.writerId('alerts'),
      replenishment: await this.codec.writerId('replenishment'),
    };
  }

  private get writerIds(): WriterIds {
    if (!this.ids) throw new Error('InventoryOutputs.init() was not awaited');
    return this.ids;
  }

  private headers(source: OutputSource): Record<string, string> {
    return { src: `${source.topic}:${source.partition}:${source.offset}`, 'event.id': source.eventId };
  }

  build(output: ScriptOutput, source: OutputSource, now: number): OutputMessage {
    const ids = this.writerIds;
    const headers = this.headers(source);
    if (output.k === 'result') {
      const value: ReservationResult = {
        resultId: `${source.eventId}:${output.outcome}`,
        orderId: output.oid,
        sourceEventId: source.eventId,
        outcome: output.outcome,
        lines: output.lines,
        shortages: output.shortages,
        allocations: output.outcome === 'REJECTED' ? [] : this.allocations(output),
        reason: output.shortages.length
          ? `insufficient stock for ${output.shortages.map((s) => s.sku).join(', ')}`
          : output.reason
            ? (REASON_TEXT[output.reason] ?? output.reason)
            : null,
        processedAt: now,
        corrects: output.corrects ?? null,
      };
      return {
        topic: this.topics.reservationResults,
        key: output.oid,
        value: this.codec.encodeWithId('reservation-results', ids.results, value),
        headers,
      };
    }
    if (output.k === 'repl') return this.replenishment(output, source.eventId, headers, now);
    return this.stockAlert(
      output.kind,
      output.sku,
      output.on,
      output.rs,
      output.th,
      source.eventId,
      headers,
      now,
      output,
    );
  }

  /** Where each line is held: the script names the units outside the default warehouse. */
  private allocations(output: Extract<ScriptOutput, { k: 'result' }>): HeldUnits[] {
    const named = output.allocations;
    // most orders: everything in the default warehouse, and the script names none
    if (!named?.length)
      return output.lines.map((l) => ({
        sku: l.sku,
        warehouseId: this.defaultWarehouse,
        quantity: l.quantity,
      }));
    return output.lines.flatMap((l) => {
      const held = named.filter((h) => h.sku === l.sku);
      return held.length ? held : [{ sku: l.sku, warehouseId: this.defaultWarehouse, quantity: l.quantity }];
    });
  }

  private replenishment(
    o: Extract<ScriptOutput, { k: 'repl' }>,
    eventId: string,
    headers: Record<string, string>,
    now: number,
  ): OutputMessage {
    const value: ReplenishmentSuggestion = {
      suggestionId: `${eventId}:${o.sku}`,
      sku: o.sku,
      reorderPoint: o.ro,
      suggestedQuantity: o.rq,
      reorderNow: o.due,
      available: o.on - o.rs,
      velocityPerHour: o.vel,
      leadTimeHours: o.lt,
      safetyStock: o.sf,
      orderCost: o.oc / 100,
      holdingCostPerUnitDay: o.hc / 1_000_000,
      sourceEventId: eventId,
      updatedAt: now,
    };
    return {
      topic: this.topics.replenishment,
      key: o.sku,
      value: this.codec.encodeWithId('replenishment', this.writerIds.replenishment, value),
      headers,
    };
  }

  private stockAlert(
    kind: string,
    sku: string,
    on: number,
    rs: number,
    th: number,
    eventId: string,
    headers: Record<string, string>,
    now: number,
    forecast?: ForecastFigures,
  ): OutputMessage {
    const available = on - rs;
    const attributes: Record<string, string> = {
      onHand: String(on),
      reserved: String(rs),
      threshold: String(th),
    };
    if (forecast?.vel !== undefined) {
      attributes.velocityPerHour = forecast.vel.toFixed(3);
      attributes.leadTimeHours = String(forecast.lt ?? 0);
      if (forecast.vel > 0) attributes.coverHours = (available / forecast.vel).toFixed(2);
    }
    if (forecast?.at !== undefined) attributes.predictedAt = new Date(forecast.at).toISOString();
    const value: Alert = {
      alertId: `${eventId}:${kind}:${sku}`,
      source: 'STOCK',
      kind,
      severity: SEVERITY[kind] ?? 'WARNING',
      subjectKey: sku,
      message: alertMessage(kind, sku, available, th, forecast),
      value: kind === 'SHORTAGE' ? -available : available,
      attributes,
      sourceEventId: eventId,
      raisedAt: now,
    };
    return {
      topic: this.topics.alerts,
      key: sku,
      value: this.codec.encodeWithId('alerts', this.writerIds.alerts, value),
      headers,
    };
  }

  /** The alert that goes with a correcting result: whoever acted on the old one must know. */
  correction(
    orderId: string,
    corrected: { resultId: string; outcome: string },
    now: { resultId: string; outcome: string },
    source: OutputSource,
    at: number,
  ): OutputMessage {
    const value: Alert = {
      alertId: `${now.resultId}:RESULT_CORRECTED`,
      source: 'STOCK',
      kind: 'RESULT_CORRECTED',
      severity: 'CRITICAL',
      subjectKey: orderId,
      message:
        `order ${orderId}: decided ${now.outcome} when applied again after Redis lost writes; ` +
        `it had been published as ${corrected.outcome} (${corrected.resultId})`,
      value: null,
      attributes: { orderId, corrects: corrected.resultId, outcome: now.outcome },
      sourceEventId: source.eventId,
      raisedAt: at,
    };
    return {
      topic: this.topics.alerts,
      key: orderId,
      value: this.codec.encodeWithId('alerts', this.writerIds.alerts, value),
      headers: this.headers(source),
    };
  }

  /** A changelog record: the SKU's state as claimed, keyed by SKU. */
  level(l: ClaimedLevel, now: number): OutputMessage {
    const value: StockLevel = {
      sku: l.sku,
      onHand: l.onHand,
      reserved: l.reserved,
      available: l.onHand - l.reserved,
      version: l.version,
      sourceEventId: l.sourceEventId,
      warehouses: warehouseStock(l.onHand, l.reserved, l.warehouseParts, this.defaultWarehouse),
      reservedPerHour: l.reservedPerHour,
      soldPerHour: l.soldPerHour,
      velocityAt: l.velocityAt,
      stockoutPredicted: l.stockoutPredicted,
      reorderPoint: l.reorderPoint,
      suggestedQuantity: l.suggestedQuantity,
      reorderNow: l.reorderNow,
      updatedAt: now,
    };
    return {
      topic: this.topics.stockLevels,
      key: l.sku,
      value: this.codec.encodeWithId('stock-levels', this.writerIds.levels, value),
      headers: l.src ? { src: l.src, 'event.id': l.sourceEventId } : { 'event.id': l.sourceEventId },
    };
  }

  /**
   * An alert queued in Redis: by a catalogue update (a new threshold put the SKU at another
   * level) or by the forecast sweep (a prediction cleared by a slowdown).
   */
  catalogueAlert(a: PendingCatalogueAlert, now: number): OutputMessage {
    const eventId = `${a.src ?? 'catalogue'}:${a.sku}:${a.version}`;
    const forecast = a.vel !== undefined ? { vel: a.vel, lt: a.lt } : undefined;
    return this.stockAlert(a.kind, a.sku, a.on, a.rs, a.th, eventId, { 'event.id': eventId }, now, forecast);
  }
}
