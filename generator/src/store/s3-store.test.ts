// Configuration and error mapping only; the S3 round trips run against a real server in test/store.
import { describe, expect, it } from "vitest";
import { s3ClientConfig, s3Failure } from "./s3-store.ts";

describe("s3ClientConfig", () => {
  it("defaults to AWS itself in us-east-1 with virtual-host addressing", () => {
    expect(s3ClientConfig({}, {})).toEqual({
      region: "us-east-1",
      forcePathStyle: false,
      followRegionRedirects: true,
    });
  });

  it("takes the S3-specific endpoint over the generic one, and path style with it", () => {
    const env = {
      AWS_ENDPOINT_URL: "http://generic:1",
      AWS_ENDPOINT_URL_S3: "http://s3:2",
      AWS_REGION: "eu-west-1",
    };
    expect(s3ClientConfig({}, env)).toMatchObject({
      endpoint: "http://s3:2",
      region: "eu-west-1",
      forcePathStyle: true,
    });
    expect(s3ClientConfig({}, { AWS_ENDPOINT_URL: "http://generic:1" }).endpoint).toBe("http://generic:1");
  });

  it("lets explicit options win over the environment", () => {
    const config = s3ClientConfig(
      {
        endpoint: "http://mine:3",
        region: "us-west-2",
        forcePathStyle: false,
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
      },
      { AWS_ENDPOINT_URL_S3: "http://s3:2", AWS_REGION: "eu-west-1" },
    );
    expect(config).toMatchObject({
      endpoint: "http://mine:3",
      region: "us-west-2",
      forcePathStyle: false,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });
  });
});

describe("s3Failure", () => {
  const hintFor = (e: unknown) => s3Failure("upload", "s3://b/k", e).problems[0]?.hint ?? "";

  it("points at the fix for the usual causes", () => {
    expect(hintFor(Object.assign(new Error("x"), { name: "NoSuchBucket" }))).toMatch(/bucket does not exist/);
    expect(hintFor(Object.assign(new Error("x"), { name: "InvalidAccessKeyId" }))).toMatch(/credentials/);
    expect(hintFor(Object.assign(new Error("x"), { $metadata: { httpStatusCode: 403 } }))).toMatch(
      /ListBucket/,
    );
    expect(hintFor(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }))).toMatch(
      /AWS_ENDPOINT_URL_S3/,
    );
    expect(hintFor(Object.assign(new Error("x"), { name: "BadDigest" }))).toMatch(/change/);
  });

  it("is a store error naming the URI", () => {
    const err = s3Failure("download", "s3://b/k", new Error("boom"));
    expect(err.kind).toBe("store");
    expect(err.problems[0]?.message).toContain("download s3://b/k failed");
  });
});
