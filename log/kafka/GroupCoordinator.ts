import { Connection, heartbeatV4, joinGroupV9, leaveGroupV5, offsetCommitV9, syncGroupV5, type Admin } from '@platformatic/kafka';
import type { TopicPartitionOffset } from '../Log.js';
import { PROTOCOL_NAME } from './CooperativeAssignor.js';
import { guardConnection } from './ConnectionErrors.js';
import { hasKafkaError } from './KafkaRecords.js';
import type { KafkaClientSecurity } from './KafkaSecurity.js';

export interface GroupCoordinatorSettings {
  clientId: string;
  admin: Admin;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** TLS / SASL options (KafkaSecurity.ts) for the coordinator connection. */
  security?: KafkaClientSecurity;
}

export interface JoinResult {
  memberId: string;
  generationId: number;
  leader: string;
  members: { memberId: string; metadata: Buffer | null }[];
}

/**
 * The classic group protocol's requests to a group's coordinator broker, on a connection of
 * their own (a JoinGroup waits up to the rebalance timeout and must not queue behind fetches).
 * Holds no membership state: KafkaConsumer decides what to send.
 */
export class GroupCoordinator {
  private current: { id: number; connection: Connection } | undefined;
  private connecting: Promise<{ id: number; connection: Connection }> | undefined;

  constructor(
    private readonly groupId: string,
    private readonly settings: GroupCoordinatorSettings,
  ) {}

  /** Node id of the coordinator, finding it if needed. */
  async id(): Promise<number> {
    return (await this.connection()).id;
  }

  get known(): boolean {
    return this.current !== undefined;
  }

  /** The coordinator's connection; one lookup at a time (a lease heartbeat can ask beside a join or commit). */
  private connection(): Promise<{ id: number; connection: Connection }> {
    if (this.current?.connection.isConnected()) return Promise.resolve(this.current);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<{ id: number; connection: Connection }> {
    await this.current?.connection.close().catch(() => undefined);
    this.current = undefined;
    const [found] = await this.settings.admin.findCoordinator({ keyType: 0, keys: [this.groupId] });
    if (!found) throw new Error(`no coordinator for group ${this.groupId}`);
    const connection = guardConnection(
      new Connection(`${this.settings.clientId}-group`, {
        ...this.settings.security,
        connectTimeout: this.settings.connectTimeoutMs,
        requestTimeout: this.settings.rebalanceTimeoutMs + this.settings.requestTimeoutMs,
      }),
    );
    // A socket error (broker killed) fails the request in flight; the connection is dropped so the
    // next request finds the coordinator again instead of writing to a dead socket.
    connection.on('error', () => {
      if (this.current?.connection === connection) this.forget();
    });
    await connection.connect(found.host, found.port);
    this.current = { id: found.nodeId, connection };
    return this.current;
  }

  /** Drops the connection (coordinator moved or unreachable); the next request finds it again. */
  forget(): void {
    const stale = this.current;
    this.current = undefined;
    void stale?.connection.close().catch(() => undefined);
  }

  /** Forgets a connection that has dropped. */
  forgetIfDisconnected(): void {
    if (this.current && !this.current.connection.isConnected()) this.forget();
  }

  async join(memberId: string, subscription: Buffer): Promise<JoinResult> {
    const { connection } = await this.connection();
    const join = (id: string) =>
      joinGroupV9.api.async(
        connection,
        this.groupId,
        this.settings.sessionTimeoutMs,
        this.settings.rebalanceTimeoutMs,
        id,
        null,
        'consumer',
        [{ name: PROTOCOL_NAME, metadata: subscription }],
        null,
      );
    let joined;
    try {
      joined = await join(memberId);
    } catch (error) {
      // The first join of a member returns its id with MEMBER_ID_REQUIRED; join again with it.
      const assignedId = (error as { response?: { memberId?: string } }).response?.memberId;
      if (!hasKafkaError(error, 'MEMBER_ID_REQUIRED') || !assignedId) throw error;
      joined = await join(assignedId);
      joined.memberId ??= assignedId;
    }
    return {
      memberId: joined.memberId ?? memberId,
      generationId: joined.generationId,
      leader: joined.leader,
      members: joined.members.map((m) => ({ memberId: m.memberId, metadata: m.metadata })),
    };
  }

  async sync(generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[]): Promise<Buffer> {
    const { connection } = await this.connection();
    const synced = await syncGroupV5.api.async(connection, this.groupId, generationId, memberId, null, 'consumer', PROTOCOL_NAME, assignments);
    return synced.assignment;
  }

  /** Resolves only on the coordinator's answer (the session lease counts on it), finding the coordinator first if need be. */
  async heartbeat(generationId: number, memberId: string): Promise<void> {
    const { connection } = await this.connection();
    await heartbeatV4.api.async(connection, this.groupId, generationId, memberId, null);
  }

  async commit(generationId: number, memberId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const { connection } = await this.connection();
    const topics = new Map<string, { name: string; partitions: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number }[] }>();
    for (const { topic, partition, offset } of offsets) {
      const entry = topics.get(topic) ?? { name: topic, partitions: [] };
      entry.partitions.push({ partitionIndex: partition, committedOffset: BigInt(offset), committedLeaderEpoch: -1 });
      topics.set(topic, entry);
    }
    await offsetCommitV9.api.async(connection, this.groupId, generationId, memberId || null, null, [...topics.values()]);
  }

  /** Leaving (rather than timing out) lets the group hand the partitions over at once. */
  async leave(memberId: string): Promise<void> {
    if (!this.current || !memberId) return;
    await leaveGroupV5.api.async(this.current.connection, this.groupId, [{ memberId }]).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.current?.connection.close().catch(() => undefined);
    this.current = undefined;
  }
}
