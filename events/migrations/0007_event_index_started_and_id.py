# Every list newest first with ties in order of id: the API's cursor walks this index.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0006_alert_outbox'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='motionevent',
            name='event_started',
        ),
        migrations.AddIndex(
            model_name='motionevent',
            index=models.Index(fields=['-started_at', '-id'], name='event_started_id'),
        ),
    ]
