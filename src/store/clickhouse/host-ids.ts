/** Host names interned as the numbers the domain keys its maps by; shared by the readers of one store version. */
export class HostIds {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];

  idOf(host: string): number {
    let id = this.ids.get(host);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(host);
      this.ids.set(host, id);
    }
    return id;
  }

  nameOf(hostId: number): string {
    return this.names[hostId] ?? "";
  }

  get size(): number {
    return this.names.length;
  }
}
