package localserver

import (
	"context"
	"strings"
	"testing"
)

func TestMissingBinaryNamesTheInstallHint(t *testing.T) {
	cases := []struct {
		name, hint, want string
	}{
		{"redis-server-does-not-exist", redisInstallHint, "apt-get install redis-server"},
		{"nats-server-does-not-exist", natsInstallHint, "go install github.com/nats-io/nats-server/v2@" + NATSServerVersion},
		{"minio-does-not-exist", minioInstallHint, "go install github.com/minio/minio@" + MinIOVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := findBinary(c.name, []string{t.TempDir()}, c.hint)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want the install hint %q", err, c.want)
			}
		})
	}
}

func TestStartRedisOnATakenPortFails(t *testing.T) {
	first, err := StartRedis(context.Background(), RedisConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop()
	_, err = StartRedis(context.Background(), RedisConfig{Dir: t.TempDir(), Port: first.Port})
	if err == nil {
		t.Fatal("second redis-server on a taken port started")
	}
	if !strings.Contains(err.Error(), ErrPortInUse.Error()) {
		t.Fatalf("err = %v, want %v", err, ErrPortInUse)
	}
	if err := Ping(context.Background(), first.Addr, ""); err != nil {
		t.Fatalf("first server hurt: %v", err)
	}
}
