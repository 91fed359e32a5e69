// Flower's Fleet API over gRPC (docs/flower.md §2-3) with the generated messages (core/flower/gen,
// from the vendored .proto files) and @grpc/grpc-js: every call carries the site's signed-timestamp
// metadata (flwr-public-key-bin, flwr-timestamp, flwr-signature-bin). Failures become FedSegErrors
// with one plain line: an unreachable SuperLink is CONNECTION_FAILED (retried by the SuperNode), refused
// credentials are AUTH_FAILED (not retried).
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { FedSegError } from '../contract/errors.js';
import { flowerTimestamp, type FlowerIdentity } from './flower-identity.js';
import { Fleet } from './gen/flwr/proto/fleet_pb.js';

type Methods = typeof Fleet.method;
export type FleetMethod = keyof Methods;
type In<M extends FleetMethod> = Methods[M]['input'];
type Out<M extends FleetMethod> = Methods[M]['output'];

export interface FleetClientOptions {
  address: string;
  identity: FlowerIdentity;
  rootCertificates?: string;
  /** Per-call deadline (ms; default 60 s). */
  timeoutMs?: number;
  /** Largest message received (bytes). */
  maxReceiveBytes?: number;
  /** Test hook: the timestamp put in the metadata. */
  clock?: () => Date;
  /** Test hook: the signature put in the metadata. */
  signWith?: (timestamp: string) => Buffer;
}

/** What a failed call means for a site operator. */
export function explainGrpcError(e: grpc.ServiceError, address: string, method: string): FedSegError {
  const details = e.details || e.message;
  switch (e.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new FedSegError('CONNECTION_FAILED', `cannot reach the Flower SuperLink at ${address} (${details})`);
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED:
      return new FedSegError('AUTH_FAILED', `the Flower SuperLink refused this site's credentials: ${details}`);
    case grpc.status.FAILED_PRECONDITION:
      return new FedSegError('PROTOCOL_ERROR', `the Flower SuperLink refused ${method}: ${details}`);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new FedSegError('MESSAGE_TOO_LARGE', `a Flower message is larger than allowed (${details})`);
    case grpc.status.UNIMPLEMENTED:
      return new FedSegError('VERSION_MISMATCH', `the server at ${address} does not offer Flower's Fleet API ${method} (Flower >= 1.23 is needed): ${details}`);
    default:
      return new FedSegError('PROTOCOL_ERROR', `Flower ${method} failed (${grpc.status[e.code] ?? e.code}): ${details}`);
  }
}

export class FleetClient {
  private readonly client: grpc.Client;
  private readonly publicKey: Buffer;

  constructor(private readonly o: FleetClientOptions) {
    const creds = o.rootCertificates ? grpc.credentials.createSsl(Buffer.from(o.rootCertificates)) : grpc.credentials.createInsecure();
    this.client = new grpc.Client(o.address, creds, {
      'grpc.max_receive_message_length': o.maxReceiveBytes ?? 512 * 1024 * 1024,
      'grpc.max_send_message_length': 512 * 1024 * 1024,
      // One quick reconnect attempt per call: the SuperNode's own backoff decides when to try again.
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
    });
    this.publicKey = Buffer.from(o.identity.publicKeyPem, 'utf8');
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    const ts = flowerTimestamp(this.o.clock?.() ?? new Date());
    md.set('flwr-public-key-bin', this.publicKey);
    md.set('flwr-timestamp', ts);
    md.set('flwr-signature-bin', this.o.signWith ? this.o.signWith(ts) : this.o.identity.sign(Buffer.from(ts, 'ascii')));
    return md;
  }

  /** One unary Fleet RPC; the request's and reply's sizes come back for the audit log. */
  call<M extends FleetMethod>(method: M, req: MessageInitShape<In<M>>, timeoutMs?: number): Promise<{ res: MessageShape<Out<M>>; sentBytes: number; receivedBytes: number }> {
    const desc = Fleet.method[method];
    const input = desc.input as DescMessage;
    const output = desc.output as DescMessage;
    const msg = create(input, req as MessageInitShape<DescMessage>);
    const bytes = toBinary(input, msg);
    let receivedBytes = 0;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/flwr.proto.Fleet/${desc.name}`,
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => {
          receivedBytes = b.length;
          return fromBinary(output, b);
        },
        bytes,
        this.metadata(),
        { deadline: Date.now() + (timeoutMs ?? this.o.timeoutMs ?? 60_000) },
        (err, res) => {
          if (err) reject(explainGrpcError(err, this.o.address, desc.name));
          else resolve({ res: res as MessageShape<Out<M>>, sentBytes: bytes.length, receivedBytes });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
